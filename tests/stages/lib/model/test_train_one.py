"""Training one approach lives once (stages/lib/model/train_one.py): train@<approach> and the learning curves
both call it, and neither builds or trains an approach module itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
CALLERS = ("stages/train.py", "stages/curve.py", "stages/lib/curve/runs.py")


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def test_train_and_curve_train_through_train_one():
    calls = {c: _calls(REPO / c) for c in CALLERS}
    assert "train_one" in calls["stages/train.py"] and "train_one" in calls["stages/lib/curve/runs.py"]
    for caller, names in calls.items():
        assert not names & {"build", "prepare_data", "seed_everything"}, caller


@pytest.mark.parametrize(
    "stage",
    [
        "stages/train.py",
        "stages/curve.py",
        "stages/label.py",
        "stages/evaluate.py",
        "stages/split.py",
        "stages/balance.py",
        "stages/collect.py",
    ],
)
def test_stage_file_orchestrates_in_about_150_lines(stage):
    # "about": train.py is 156 lines since its task: sft dispatch
    assert len((REPO / stage).read_text().splitlines()) <= 160
