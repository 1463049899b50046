"""The metrics contract: a screenful of headline metrics, details beside them, timings outside git and DVC
(the plots a reviewer reads: tests/test_plots.py)."""

from __future__ import annotations

import json

import pytest

from stages.lib.core.metrics import (
    PER_CLASS_HEADLINE,
    TIMING_KEYS,
    per_class_headline,
    pick,
    settle,
    settle_all,
    significant,
    write_metrics,
)

from .conftest import REPO
from .dvc_helpers import dvc, flat, sh


def test_dvc_metrics_show_fits_a_screen_on_the_demo():
    """The committed metrics (the demo run) list at most 40 values (338 before the headline split)."""
    values = demo_values()  # {"": {"data": {path: {"data": ...}}}} (workspace)
    assert 20 <= len(values) <= 40, sorted(values)
    assert not [k for k in values if k.rsplit(":", 1)[1].split(".")[-1] in TIMING_KEYS]
    # each approach's test macro-F1 and accuracy, leakage and rows in/out are there
    for approach in ("feature", "full", "adapter"):
        assert {f"metrics/eval/{approach}.json:macro_f1", f"metrics/eval/{approach}.json:accuracy"} <= set(values)
    assert {"metrics/split.json:leakage.near", "metrics/ingest.json:rows_out"} <= set(values)


def demo_values(pipeline: str = "") -> dict[str, object]:
    """The headline values of one pipeline: the root's (classification) or `sft/`'s. A plain `dvc metrics show`
    at the root lists the headlines of both dvc.yaml files, each pipeline's within 40 values."""
    shown = json.loads(dvc(REPO, "metrics", "show", "--json").stdout)
    files = shown[""]["data"] if "" in shown else shown
    mine = {path: entry for path, entry in files.items() if path.startswith("sft/") == (pipeline == "sft")}
    return {f"{path}:{k}": v for path, entry in mine.items() for k, v in flat(entry.get("data", {})).items()}


def test_the_sft_pipeline_fits_a_screen_too():
    """The SFT pipeline's committed headline (sft/metrics) stays within 40 values as well."""
    values = demo_values("sft")
    assert 10 <= len(values) <= 40, sorted(values)
    assert not [k for k in values if k.rsplit(":", 1)[1].split(".")[-1] in TIMING_KEYS]


@pytest.mark.parametrize("n_classes", [3, 77])
def test_dvc_metrics_show_stays_within_40_values_for_any_number_of_classes(n_classes):
    """The demo's headline with its two classes' per-class values replaced by what n classes would give.

    Per-class values are headline only on two classes (PER_CLASS_HEADLINE); with more, one value (the worst
    class's) is, and the rest go to the details files. Every other headline value is one per stage or approach.
    """
    from stages import audit

    demo = ["ham", "spam"]
    values = demo_values()
    per_class = {k for k in values if k.rsplit(".", 1)[-1] in demo}
    assert per_class == {"metrics/audit.json:noise_rate.ham", "metrics/audit.json:noise_rate.spam"}, per_class
    classes = [f"class_{i}" for i in range(n_classes)]
    metrics = {
        "estimated_error_rate": 0.1,
        "flagged_rows": 5,
        "noise_rate": dict.fromkeys(classes, 0.1),
        "max_noise_rate": 0.1,
    }
    audit_values = flat(pick(metrics, audit.headline(metrics)))
    assert set(audit_values) == {"estimated_error_rate", "flagged_rows", "max_noise_rate"}
    shown = len(values) - len(per_class) - 2 + len(audit_values)  # the demo's audit had 2 + 2 values
    assert shown <= 40, shown
    assert PER_CLASS_HEADLINE == 2
    assert per_class_headline(2, "noise_rate", "max_noise_rate") == "noise_rate"


def test_no_tracked_file_holds_a_raw_timing():
    """Raw wall-clock values change on every run: in a tracked file they would dirty every fresh clone. Only the
    details' `compute` (rounded to two significant figures) holds measured figures."""
    tracked = sh(["git", "ls-files", "metrics", "reports", "plots"], REPO).stdout.split()
    for rel in (r for r in tracked if r.endswith(".json")):
        data = json.loads((REPO / rel).read_text())
        keys = flat(data) if isinstance(data, dict) else {}
        raw = [k for k in keys if k.split(".")[-1] in TIMING_KEYS and not k.rsplit(".", 1)[0].endswith("compute")]
        assert not raw, rel
        for key in (k for k in keys if k.split(".")[-1] in TIMING_KEYS and keys[k] is not None):
            assert significant(keys[key]) == keys[key], (rel, key)


def test_write_metrics_splits_headline_details_and_timings(tmp_path):
    metrics = {"rows_in": 5, "rows_out": 4, "dropped": {"a": 1, "b": 0}, "leakage": {"near": 2}, "seconds": 1.5}
    top = write_metrics(
        metrics, ("rows_out", "leakage.near"), tmp_path / "m.json", tmp_path / "d/m.json", tmp_path / "t", "stage"
    )
    assert top == {"rows_out": 4, "leakage": {"near": 2}}
    assert json.loads((tmp_path / "m.json").read_text()) == top
    assert json.loads((tmp_path / "d/m.json").read_text()) == {k: v for k, v in metrics.items() if k != "seconds"}
    assert json.loads((tmp_path / "t/stage.json").read_text()) == {"seconds": 1.5}
    # training time, peak memory and inference time are versioned too, rounded so that a rerun keeps the bytes
    measured = {"train_seconds": 282.31, "peak_memory_mb": 1487.2, "predict_seconds_per_1000": 26.34, "steps": 272}
    write_metrics(measured, ("steps",), tmp_path / "m.json", tmp_path / "d/m.json", tmp_path / "t", "train/full")
    details = json.loads((tmp_path / "d/m.json").read_text())
    assert details == {"steps": 272, "compute": {"train_seconds": 280.0, "peak_memory_mb": 1500.0,
                                                 "predict_seconds_per_1000": 26.0}}  # fmt: skip
    assert json.loads((tmp_path / "t/train/full.json").read_text())["train_seconds"] == 282.31
    rerun = {"train_seconds": 279.8, "peak_memory_mb": 1491.0, "predict_seconds_per_1000": 25.9, "steps": 272}
    write_metrics(rerun, ("steps",), tmp_path / "m.json", tmp_path / "d/m2.json", tmp_path / "t", "train/full")
    assert (tmp_path / "d/m2.json").read_bytes() == (tmp_path / "d/m.json").read_bytes()
    with pytest.raises(KeyError, match=r"headline metric 'leakage\.far'"):
        pick(metrics, ["leakage.far"])


def test_a_rerun_within_the_tolerance_keeps_the_versioned_compute(tmp_path):
    """Timings on shared cores move between identical runs (full fine-tuning: 300 s, then 320 s; two
    significant figures alone would write 300.0 then 320.0 and dirty a fresh clone). A measurement within
    2x of the versioned figure keeps it; a real change (another machine, batch size) replaces it."""
    first = {"train_seconds": 301.2, "peak_memory_mb": 1487.2, "predict_seconds_per_1000": 26.3, "steps": 306}
    details = tmp_path / "details/train/full.json"
    write_metrics(first, ("steps",), tmp_path / "m.json", details, tmp_path / "t", "train/full")
    versioned = details.read_bytes()
    assert json.loads(versioned)["compute"] == {
        "train_seconds": 300.0, "peak_memory_mb": 1500.0, "predict_seconds_per_1000": 26.0,
    }  # fmt: skip
    noisy = first | {"train_seconds": 322.7, "peak_memory_mb": 1511.0, "predict_seconds_per_1000": 31.9}
    write_metrics(noisy, ("steps",), tmp_path / "m.json", details, tmp_path / "t", "train/full")
    assert details.read_bytes() == versioned  # the raw figures are in the timings file
    assert json.loads((tmp_path / "t/train/full.json").read_text())["train_seconds"] == 322.7
    faster = first | {"train_seconds": 140.4}  # under half the time: a GPU, fewer steps, or another machine
    write_metrics(faster, ("steps",), tmp_path / "m.json", details, tmp_path / "t", "train/full")
    assert json.loads(details.read_text())["compute"]["train_seconds"] == 140.0
    assert json.loads(details.read_text())["compute"]["peak_memory_mb"] == 1500.0
    # the other quality figures are never settled: a changed step count is written as it is
    write_metrics(first | {"steps": 250}, ("steps",), tmp_path / "m.json", details, tmp_path / "t", "train/full")
    assert json.loads(details.read_text())["steps"] == 250


@pytest.mark.parametrize(
    ("measured", "previous", "expected"),
    [
        ({"train_seconds": 320.0}, {"train_seconds": 300.0}, {"train_seconds": 300.0}),
        ({"train_seconds": 599.0}, {"train_seconds": 300.0}, {"train_seconds": 300.0}),
        ({"train_seconds": 601.0}, {"train_seconds": 300.0}, {"train_seconds": 600.0}),
        ({"train_seconds": 151.0}, {"train_seconds": 300.0}, {"train_seconds": 300.0}),
        ({"train_seconds": 149.0}, {"train_seconds": 300.0}, {"train_seconds": 150.0}),
        ({"train_seconds": 320.0}, None, {"train_seconds": 320.0}),
        ({"train_seconds": 320.0}, {"peak_memory_mb": 9.0}, {"train_seconds": 320.0}),
        ({"train_seconds": 0.0}, {"train_seconds": 300.0}, {"train_seconds": 0.0}),
        ({"train_seconds": None}, {"train_seconds": 300.0}, {"train_seconds": None}),
        ({"train_seconds": 0.031}, {"train_seconds": "x"}, {"train_seconds": 0.031}),
    ],
)
def test_settle_on_known_cases(measured, previous, expected):
    assert settle(measured, previous) == expected


def test_settle_all_reaches_nested_compute_and_nothing_else():
    """compare measures the TF-IDF baseline itself: `tfidf.compute` settles against its last details."""
    details = {"tfidf": {"macro_f1": 0.9, "compute": {"train_seconds": 1.7}}, "compute": {"peak_memory_mb": 900.0}}
    previous = {"tfidf": {"macro_f1": 0.5, "compute": {"train_seconds": 1.6}}}
    assert settle_all(details, previous) == {
        "tfidf": {"macro_f1": 0.9, "compute": {"train_seconds": 1.6}}, "compute": {"peak_memory_mb": 900.0},
    }  # fmt: skip
