"""The metrics contract: a screenful of headline metrics, details beside them, timings outside git and DVC
(the plots a reviewer reads: tests/test_plots.py)."""

from __future__ import annotations

import json

import pytest

from stages.lib.core.metrics import TIMING_KEYS, pick, write_metrics

from .conftest import REPO
from .dvc_helpers import dvc, flat, sh


def test_dvc_metrics_show_fits_a_screen_on_the_demo():
    """The committed metrics (the demo run) list at most 40 values (338 before the headline split)."""
    shown = json.loads(dvc(REPO, "metrics", "show", "--json").stdout)
    files = shown[""]["data"] if "" in shown else shown  # {"": {"data": {path: {"data": ...}}}} (workspace)
    values = {f"{path}:{k}": v for path, entry in files.items() for k, v in flat(entry["data"]).items()}
    assert 20 <= len(values) <= 40, sorted(values)
    assert not [k for k in values if k.rsplit(":", 1)[1].split(".")[-1] in TIMING_KEYS]
    # each approach's test macro-F1 and accuracy, leakage and rows in/out are there
    for approach in ("feature", "full", "adapter"):
        assert {f"metrics/eval/{approach}.json:macro_f1", f"metrics/eval/{approach}.json:accuracy"} <= set(values)
    assert {"metrics/split.json:leakage.near", "metrics/ingest.json:rows_out"} <= set(values)


def test_no_tracked_file_holds_a_timing():
    """Wall-clock values change on every run: in a tracked file they would dirty every fresh clone."""
    tracked = sh(["git", "ls-files", "metrics", "reports", "plots"], REPO).stdout.split()
    for rel in (r for r in tracked if r.endswith(".json")):
        data = json.loads((REPO / rel).read_text())
        keys = flat(data) if isinstance(data, dict) else {}
        assert not [k for k in keys if k.split(".")[-1] in TIMING_KEYS], rel


def test_write_metrics_splits_headline_details_and_timings(tmp_path):
    metrics = {"rows_in": 5, "rows_out": 4, "dropped": {"a": 1, "b": 0}, "leakage": {"near": 2}, "seconds": 1.5}
    top = write_metrics(
        metrics, ("rows_out", "leakage.near"), tmp_path / "m.json", tmp_path / "d/m.json", tmp_path / "t", "stage"
    )
    assert top == {"rows_out": 4, "leakage": {"near": 2}}
    assert json.loads((tmp_path / "m.json").read_text()) == top
    assert json.loads((tmp_path / "d/m.json").read_text()) == {k: v for k, v in metrics.items() if k != "seconds"}
    assert json.loads((tmp_path / "t/stage.json").read_text()) == {"seconds": 1.5}
    with pytest.raises(KeyError, match=r"headline metric 'leakage\.far'"):
        pick(metrics, ["leakage.far"])
