"""Committed outputs are what the code produces: a fresh copy of the project reruns the data stages (collect,
ingest through balance) on the bundled sample and gets the committed dvc.lock entries and metrics byte for byte.

The model stages take minutes; the slow suite covers them on tiny data (tests/test_dvc_fresh_clone.py).
"""

from __future__ import annotations

import shutil

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
