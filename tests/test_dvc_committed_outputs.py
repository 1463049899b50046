"""Committed outputs are what the code produces: a fresh copy of the project reruns the data stages (collect,
ingest through balance) on the bundled sample and gets the committed dvc.lock entries and metrics byte for byte.

The model stages take minutes: the slow suite reruns each whole pipeline (classification about 15 minutes on two
cores, SFT about 5) in a fresh copy and checks the same (and tests/test_dvc_fresh_clone.py does so on tiny data).
Models are byte-identical run to run on one machine; measured `compute` settles within 2x of the committed
figure (stages/lib/core/metrics.py), so timings on a loaded machine do not dirty the copy either.
"""

from __future__ import annotations

import shutil

import pytest

from .conftest import REPO
from .dvc_helpers import copy_project, dvc, sh

DATA_STAGES = ("collect", "ingest", "clean", "label", "split", "augment", "balance")


def test_a_fresh_copy_reproduces_the_committed_data_stage_outputs(tmp_path):
    repo = copy_project(tmp_path / "copy")
    # What `make setup` put on this machine: the WordNet files augment's synonyms read (ignored by git).
    assert (REPO / ".nltk_data/wordnet.sha256").is_file(), "run `make setup` first (scripts/setup_data.sh)"
    shutil.copytree(REPO / ".nltk_data", repo / ".nltk_data")
    for stage in DATA_STAGES:
        dvc(repo, "repro", "--single-item", "--force", stage)
    # dvc.lock records each output's md5: any byte that differs from the committed run shows as a change here,
    # and so does any metrics, details or plot file the stages rewrote.
    assert sh(["git", "status", "--porcelain"], repo).stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", [".", "sft"])
def test_a_fresh_copy_reproduces_every_committed_output(tmp_path, pipeline):
    """`make demo` (or `make demo-sft`) in a fresh clone: no model is in git, so every stage runs; the committed
    dvc.lock, metrics, details, reports and plots must come out unchanged."""
    repo = copy_project(tmp_path / "copy")
    shutil.copytree(REPO / ".nltk_data", repo / ".nltk_data")
    dvc(repo / pipeline, "repro")
    assert sh(["git", "status", "--porcelain"], repo).stdout == ""
