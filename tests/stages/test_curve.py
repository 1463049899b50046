"""curve: nested subsets trained end to end on the tiny model, with the fits, the report and the plot rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.compare import TfidfBaseline
from schemas.curve import CurveParams
from schemas.paths import CurvePaths
from stages import curve
from stages.lib.curve.analysis import analyse
from stages.lib.curve.report import render
from stages.lib.curve.runs import run_row
from tests.finetune_env import make_env


@pytest.mark.slow  # about a minute: 8 trainings and a scratch base model
def test_curve_trains_every_size_and_seed_and_reports(tmp_path):
    env = make_env(tmp_path)
    cfg = CurveParams.model_validate(
        {
            "enabled": True,
            "base": "base_model",
            "approaches": {"feature": {"kind": "feature", "learning_rate": 1e-2}},
            "fractions": [0.34, 0.67, 1.0],
            "seeds": 2,
            "seeds_up_to": 0.34,
            "group_by": None,
            "bootstrap": {"n_resamples": 50},
        }
    )
    paths = CurvePaths(
        base=str(tmp_path / "curve_base"),
        metrics=str(tmp_path / "curve.json"),
        runs=str(tmp_path / "plots/curve.json"),
        report=str(tmp_path / "curve.md"),
        work=str(tmp_path / "work"),
    )
    metrics = curve.run(
        cfg, env.train_params(), env.model, TfidfBaseline(), paths, env.train_paths, env.base, str(env.root / "data")
    )
    runs = metrics["runs"]
    # per approach: 2 seeds at 0.34, one at 0.67 and 1.0; the TF-IDF baseline on the same subsets
    assert sorted((r["approach"], r["fraction"], r["seed"]) for r in runs) == sorted(
        (a, f, s) for a in ("feature", "tfidf_logreg") for f, s in ((0.34, 0), (0.34, 1), (0.67, 0), (1.0, 0))
    )
    sizes = sorted({r["train_rows"] for r in runs if r["seed"] == 0})
    assert sizes[-1] == 30 and sizes[0] < sizes[1] < sizes[2]
    assert set(metrics["approaches"]) == {"feature", "tfidf_logreg"}
    assert {"fit", "b_interval", "rows_for_target", "check", "spread_at_smallest"} <= set(
        metrics["approaches"]["feature"]
    ) or metrics["approaches"]["feature"]["fit"] is None
    plot = json.loads(Path(paths.runs).read_text())
    assert {p["approach"] for p in plot} == {"feature", "tfidf_logreg"} and len(plot) == 6
    assert Path(paths.report).read_text().startswith("# Learning curves")
    assert not Path(paths.work).exists()


def test_curve_off_by_default_trains_nothing_and_says_how_to_run_it(tmp_path):
    """A plain `dvc repro` must stay cheap: with curve.enabled false nothing trains, and the outputs say so."""
    paths = CurvePaths(
        base=str(tmp_path / "curve_base"),
        metrics=str(tmp_path / "curve.json"),
        runs=str(tmp_path / "plots/curve.json"),
        report=str(tmp_path / "curve.md"),
        work=str(tmp_path / "work"),
    )
    # None for every input: the stage must not even read them
    metrics = curve.run(CurveParams(), None, None, TfidfBaseline(), paths, None, None, None)
    assert metrics == {"enabled": False, "runs": []}
    assert "dvc exp run -S curve.enabled=true curve" in (tmp_path / "curve.md").read_text()
    assert (tmp_path / "plots/curve.json").read_text().strip() == "[]"
    assert (tmp_path / "curve_base/README.md").is_file()


def test_rows_needed_far_beyond_the_data_seen_are_not_estimated():
    """A curve that has nearly stopped improving asks for an absurd number of rows for the target: past 100x the
    data seen the report says "more than" that bound; a curve that gets there soon gets its number."""
    cfg = CurveParams.model_validate({"target_macro_f1": 0.97})

    def runs(name: str, error: list[float]) -> list[dict]:
        return [run_row(name, n / 800, 0, n, 1 - e, 1.0, None, 10) for n, e in zip((100, 200, 400, 800), error)]

    slow = [0.2 * n**-0.1 for n in (100, 200, 400, 800)]  # error 0.2 n^-0.1 reaches 0.03 at 1.7e8 rows
    fast = [0.3 * n**-0.4 for n in (100, 200, 400, 800)]  # error 0.3 n^-0.4 reaches 0.03 at 316 rows
    metrics = analyse(runs("slow", slow) + runs("fast", fast), cfg, majority_f1=0.45)
    s, f = metrics["approaches"]["slow"], metrics["approaches"]["fast"]
    assert s["rows_for_target_beyond"] == 80_000 and s["rows_for_target"] is None
    assert f["rows_for_target_beyond"] is None and f["rows_for_target"] == pytest.approx(316, abs=3)
    report = render(runs("slow", slow) + runs("fast", fast), metrics, cfg)
    assert "| fast | " in report and "| 316 |" in report
    assert "more than 80,000 (100x the data seen; not estimated)" in report
