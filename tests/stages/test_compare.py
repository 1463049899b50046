"""compare: one row per approach plus the majority-class baseline, the bar chart, the quality gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.compare import CompareParams
from schemas.paths import ComparePaths, EvaluatePaths, TrainPaths
from stages.compare import run
from stages.lib.core.errors import StageError
from tests.finetune_fixtures import write_split


def setup(root: Path, scores: dict[str, float]) -> tuple[ComparePaths, TrainPaths, EvaluatePaths]:
    write_split(root / "data")
    train = TrainPaths(
        data_dir=str(root / "data"), details_dir=str(root / "details/train"), live_dir=str(root / "dvclive")
    )
    evaluate = EvaluatePaths(test=str(root / "data/test.parquet"), details_dir=str(root / "details/eval"))
    for folder in (train.details_dir, evaluate.details_dir, root / "timings/train"):
        Path(folder).mkdir(parents=True)
    for i, (name, f1) in enumerate(scores.items()):
        (Path(train.details_dir) / f"{name}.json").write_text(
            json.dumps({"trainable_params": 1000 * (i + 1), "total_params": 10000, "trainable_fraction": 0.1 * (i + 1)})
        )
        (root / "timings/train" / f"{name}.json").write_text(
            json.dumps({"train_seconds": 10.0 + i, "peak_memory_mb": 500.0})
        )
        curve = Path(train.live_dir, name, "plots/metrics/eval/macro_f1.tsv")
        curve.parent.mkdir(parents=True)
        curve.write_text(f"step\tmacro_f1\n50\t{f1 - 0.1}\n100\t{f1}\n")
        (Path(evaluate.details_dir) / f"{name}.json").write_text(
            json.dumps(
                {
                    "macro_f1": f1,
                    "accuracy": f1 + 0.05,
                    "weighted_f1": f1,
                    "mcc": f1 - 0.1,
                    "ece": 0.05,
                }
            )
        )
    paths = ComparePaths(
        metrics=str(root / "compare.json"),
        report=str(root / "comparison.md"),
        plot=str(root / "plots/compare.json"),
        curves=str(root / "plots/curves.json"),
    )
    return paths, train, evaluate


def test_table_ranks_approaches_and_adds_the_baseline(tmp_path):
    paths, train, evaluate = setup(tmp_path, {"feature": 0.8, "full": 0.9, "adapter": 0.85})
    metrics = run(["feature", "full", "adapter"], CompareParams(), paths, train, evaluate, tmp_path / "timings")
    # test split: 4 spam, 8 ham; the train majority is ham
    assert metrics["baseline"]["label"] == "ham"
    assert metrics["baseline"]["accuracy"] == pytest.approx(8 / 12, abs=1e-6)
    assert metrics["baseline"]["macro_f1"] == pytest.approx(0.4, abs=1e-6)
    assert metrics["best"] == {"macro_f1": 0.9, "margin_over_baseline": pytest.approx(0.5)}
    assert set(metrics["approaches"]["full"]) == {
        "macro_f1",
        "accuracy",
        "weighted_f1",
        "mcc",
        "ece",
        "trainable_params",
        "trainable_fraction",
    }
    report = Path(paths.report).read_text().splitlines()
    rows = [line.split("|")[1].strip() for line in report if line.startswith("| ") and "approach" not in line]
    assert rows == ["full", "adapter", "feature", "majority_class (always 'ham')"]
    plot = json.loads(Path(paths.plot).read_text())
    assert [p["approach"] for p in plot] == ["full", "adapter", "feature", "majority_class"]
    # time and memory: only in the unversioned timings report, never in the tracked one
    assert "train s" not in Path(paths.report).read_text()
    timings = (tmp_path / "timings/comparison.md").read_text()
    assert "| full | 0.9000 | 2,000 | 11.0 | 500 |" in timings
    curves = json.loads(Path(paths.curves).read_text())
    assert {(c["approach"], c["step"]) for c in curves} == {
        (n, s) for n in ("feature", "full", "adapter") for s in (50, 100)
    }
    assert {"approach": "full", "step": 100, "macro_f1": 0.9} in curves


def test_gate_fails_clearly_and_writes_nothing(tmp_path):
    paths, train, evaluate = setup(tmp_path, {"full": 0.7})
    gate = CompareParams.model_validate({"gate": {"metric": "macro_f1", "minimum": 0.75}})
    with pytest.raises(StageError, match=r"quality gate failed: best macro_f1 is 0.7 \(full\), below .* 0.75"):
        run(["full"], gate, paths, train, evaluate)
    assert not Path(paths.report).exists()
    passing = CompareParams.model_validate({"gate": {"metric": "macro_f1", "minimum": 0.65}})
    assert run(["full"], passing, paths, train, evaluate)["best"]["macro_f1"] == 0.7


def test_missing_approach_metrics_name_the_stage_to_run(tmp_path):
    paths, train, evaluate = setup(tmp_path, {"full": 0.7})
    with pytest.raises(StageError, match="run train@lora and evaluate@lora"):
        run(["full", "lora"], CompareParams(), paths, train, evaluate)
