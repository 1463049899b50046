"""Queued experiments: two `dvc exp run --queue` on the real pipeline, run two at a time by `dvc queue start -j 2`.

Each queued experiment runs in its own temporary workspace, and every path a stage writes (outputs,
checkpoints, dvclive folders, the clean stage's part files, atomic-write temporaries) is relative to the
workspace, so the two never write into each other's files. The upstream stages run once on a 400-message
subset with a tiny model; the two experiments differ in the feature approach's learning rate.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import yaml

from tests.finetune_fixtures import tiny_model_params, tiny_train_params

from .dvc_helpers import copy_project, dvc, sh

SMS = "data/sample/sms_spam_collection/SMSSpamCollection"


def small_pipeline(repo: Path) -> None:
    """400 messages, a tiny scratch model, one approach trained on the split (no augment/balance)."""
    lines = (repo / SMS).read_text(encoding="utf-8").splitlines()[:400]
    (repo / SMS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (repo / "no_weights.json").write_text(json.dumps({"class_weights": None}))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["paths"]["train"]["data_dir"] = "data/split"
    params["paths"]["train"]["class_weights"] = "no_weights.json"
    params["paths"]["evaluate"]["test"] = "data/split/test.parquet"
    params["model"] = tiny_model_params(steps=3)
    params["train"] = tiny_train_params(max_steps=6, class_weights=False)
    params["approaches"] = {"feature": {"kind": "feature", "learning_rate": 3e-3}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def wait_for_queue(repo: Path, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            return status
        time.sleep(3)
    raise AssertionError(f"queue still busy after {timeout} s:\n{status}")


@pytest.mark.slow
def test_two_queued_experiments_run_side_by_side(tmp_path):
    repo = copy_project(tmp_path)
    small_pipeline(repo)
    dvc(repo, "repro", "base_model")
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "small pipeline"], repo)
    try:
        for name, lr in (("lr-small", "0.001"), ("lr-large", "0.01")):
            dvc(repo, "exp", "run", "--queue", "-n", name, "-S", f"approaches.feature.learning_rate={lr}",
                "evaluate@feature")  # fmt: skip
        dvc(repo, "queue", "start", "-j", "2")
        status = wait_for_queue(repo)
        assert status.count("Success") == 2, status
    finally:
        dvc(repo, "queue", "stop", "--kill", check=False)
    logs = {name: dvc(repo, "queue", "logs", name, check=False).stdout for name in ("lr-small", "lr-large")}
    for name, log in logs.items():
        assert "Running stage 'train@feature'" in log, log[-2000:]
        assert "resuming from" not in log and "starting afresh" not in log, name  # no other run's checkpoints

    shown = dvc(repo, "exp", "show", "--only-changed", "--csv").stdout
    rows = {r["Experiment"]: r for r in csv.DictReader(io.StringIO(shown)) if r["Experiment"]}
    assert {"lr-small", "lr-large"} <= set(rows)
    assert rows["lr-small"]["approaches.feature.learning_rate"] == "0.001"
    assert rows["lr-large"]["approaches.feature.learning_rate"] == "0.01"
    assert "best_validation.macro_f1" in shown and "macro_f1" in shown
    assert "clean.batch_size" not in shown  # --only-changed: unchanged params are left out
    # the workspace itself stayed as committed: nothing trained there
    assert not (repo / "checkpoints").exists() and not (repo / "models/feature").exists()
