"""The whole pipeline on tiny data in a temporary repository: a fresh clone that reruns it stays clean, and an
experiment that changes one approach's learning rate shows only what it moved.

Slow (several minutes on two cores): every stage runs, twice, plus one experiment.
"""

from __future__ import annotations

import csv
import json
import random

import pytest
import yaml

from stages.lib.text.wordnet import write_wordnet_stamp

from .dvc_helpers import copy_project, dvc, flat, sh
from .finetune_fixtures import HAM, SPAM, tiny_model_params, tiny_train_params


def tiny_project(root):
    repo = copy_project(root)
    # distinct words per message: split's near-duplicate leak check must not empty validation
    rng = random.Random(0)
    words = sorted({w.lower().strip("!,.:") for t in SPAM + HAM for w in t.split()})
    rows = [(f"{SPAM[i % len(SPAM)]} {' '.join(rng.sample(words, 6))}", "spam") for i in range(20)]
    rows += [(f"{HAM[i % len(HAM)]} {' '.join(rng.sample(words, 6))}", "ham") for i in range(50)]
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
    runs = list(named_runs(json.loads(shown)))
    experiment = next(data for name, data in runs if name == "adapter-lr")
    baseline = next(data for name, data in runs if name == "main")
    before = {f"{p}:{k}": v for p, c in baseline["metrics"].items() for k, v in flat(c["data"]).items()}
    after = {f"{p}:{k}": v for p, c in experiment["metrics"].items() for k, v in flat(c["data"]).items()}
    moved = {k for k in after if after[k] != before.get(k)}
    assert moved and {k.split(":")[0] for k in moved} <= {
        "metrics/train/adapter.json",
        "metrics/eval/adapter.json",
        "metrics/compare.json",
    }, moved


def named_runs(node):
    """(name, data) of every revision in `dvc exp show --json` output, whatever its nesting."""
    if isinstance(node, list):
        for item in node:
            yield from named_runs(item)
    elif isinstance(node, dict):
        if "data" in node and isinstance(node["data"], dict) and "metrics" in node["data"]:
            yield node.get("name") or node["data"].get("name") or node.get("rev"), node["data"]
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from named_runs(value)
