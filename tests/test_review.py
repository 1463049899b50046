"""`make report` (scripts/report.py) on two commits of a temporary copy: the Markdown report and the gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .dvc_helpers import copy_project, sh


def edit_json(path: Path, **changes: float) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def review(repo: Path, base: str) -> tuple[int, str, str]:
    done = sh([sys.executable, "scripts/report.py", "--base", base, "--out", "review.md"], repo, check=False)
    return done.returncode, (repo / "review.md").read_text(), done.stderr


def test_report_shows_the_change_and_the_gate_names_each_regression(tmp_path):
    repo = copy_project(tmp_path)
    adapter = json.loads((repo / "metrics/eval/adapter.json").read_text())

    # A pull request: a smaller adapter learning rate that costs 0.05 macro-F1 and moves the confusion plot.
    params = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(params.replace("learning_rate: 2e-3", "learning_rate: 1e-3", 1))
    edit_json(repo / "metrics/eval/adapter.json", macro_f1=adapter["macro_f1"] - 0.05)
    confusion = repo / "plots/confusion/adapter.json"
    confusion.write_text(confusion.read_text().replace('"predicted": "ham"', '"predicted": "spam"', 1))
    sh(["git", "commit", "-qam", "lower adapter lr"], repo)

    code, text, stderr = review(repo, "HEAD~1")
    assert code == 1
    assert f"metrics/eval/adapter.json:macro_f1: {adapter['macro_f1']:g} -> {adapter['macro_f1'] - 0.05:g}" in stderr
    assert "approaches.adapter.learning_rate" in text and "| 0.002 " in text.replace("2e-3", "0.002")
    assert "| metrics/eval/adapter.json | macro_f1" in text  # dvc metrics diff --md, headline only
    assert "per_class" not in text  # details are not metrics
    assert "- `plots/confusion/adapter.json`" in text
    assert "**Failed**: 1 metric(s)" in text

    # Within tolerance (abs_tol 0.01): the gate passes and says so.
    edit_json(repo / "metrics/eval/adapter.json", macro_f1=adapter["macro_f1"] - 0.045)
    sh(["git", "commit", "-qam", "small move"], repo)
    code, text, _ = review(repo, "HEAD~1")
    assert code == 0 and "Passed (4 rules" in text

    # A lower-is-better rule: one more near-duplicate leaking into the test split fails at tolerance 0.
    split = json.loads((repo / "metrics/split.json").read_text())
    split["leakage"]["near"] += 1
    (repo / "metrics/split.json").write_text(json.dumps(split, indent=2, sort_keys=True) + "\n")
    code, _, stderr = review(repo, "HEAD")
    assert code == 1 and "metrics/split.json:leakage.near" in stderr
