"""The whole pipeline on tiny data in a temporary repository: a fresh clone that reruns it stays clean, and an
experiment that changes one approach's learning rate shows only what it moved.

Slow (several minutes on two cores): every stage runs, twice, plus one experiment.
"""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from stages.lib.text.wordnet import write_wordnet_stamp

from .dvc_helpers import copy_project, dvc, sh
from .finetune_fixtures import HAM, SPAM, tiny_model_params, tiny_train_params


def tiny_project(root):
    repo = copy_project(root)
    rows = [(f"{SPAM[i % len(SPAM)]} number {i}", "spam") for i in range(20)]
    rows += [(f"{HAM[i % len(HAM)]} number {i}", "ham") for i in range(50)]
    with (repo / "data/raw/sms.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows])
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["sources"] = {
        "sms": {"path": "data/raw/sms.csv", "format": "csv", "text_field": "text", "label_field": "label"}
    }
    params["clean"]["near_dup"]["enabled"] = False  # the templates repeat on purpose
    params["augment"]["operations"] = [{"kind": "char_noise", "n_aug": 1, "apply_to": "originals"}]
    params["model"] = params["model"] | tiny_model_params()
    params["model"]["scratch"] = params["model"]["scratch"] | tiny_model_params()["scratch"]
    params["train"] = params["train"] | tiny_train_params()
    for approach in params["approaches"].values():
        approach["epochs"] = None
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "commit", "-qam", "tiny data"], repo)
    return repo


def setup_machine(repo):
    """What `make setup` does on a machine: the WordNet stamp (here: no WordNet, EDA is off)."""
    write_wordnet_stamp(repo / ".nltk_data", repo / ".nltk_data/wordnet.sha256")


@pytest.mark.slow
def test_fresh_clone_rerun_is_clean_and_an_experiment_shows_only_what_it_moved(tmp_path):
    repo = tiny_project(tmp_path / "origin")
    setup_machine(repo)
    dvc(repo, "repro")
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "results"], repo)
    assert sh(["git", "status", "--porcelain"], repo).stdout == ""

    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    setup_machine(clone)
    dvc(clone, "repro")  # no remote: every stage runs again from scratch
    assert sh(["git", "status", "--porcelain"], clone).stdout == ""  # same metrics, plots, dvc.lock
    assert "up to date" in dvc(clone, "status").stdout
    assert (clone / "reports/timings/train/full.json").is_file()  # timings exist, outside git

    dvc(clone, "exp", "run", "-n", "adapter-lr", "-S", "approaches.adapter.learning_rate=0.05")
    shown = dvc(clone, "exp", "show", "--only-changed", "--json").stdout
    rows = json.loads(shown)
    exp = [e for r in rows for e in (r.get("experiments") or []) if e.get("name") == "adapter-lr"]
    assert exp, shown
    metrics = exp[0]["revs"][0]["data"]["metrics"]
    changed = {
        f"{path}:{key}"
        for path, content in metrics.items()
        for key, value in content["data"].items()
        if value != rows[0]["data"]["metrics"][path]["data"][key]
    }
    assert {path.split(":")[0] for path in changed} <= {
        "metrics/train/adapter.json",
        "metrics/eval/adapter.json",
        "metrics/compare.json",
    }, changed
