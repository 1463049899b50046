"""compare's rows: each approach's metrics and test predictions, the TF-IDF baseline fitted and scored, and the
validation curves (by optimizer step) and the test-metric bars with their intervals, for the top-level plots."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import significant
from stages.lib.model.evaluation import classification_report
from stages.lib.model.textclf import peak_memory_mb
from stages.lib.model.tfidf import baseline_pipeline

log = get_logger("compare")

QUALITY = ("macro_f1", "accuracy", "weighted_f1", "mcc", "ece")
COST = ("trainable_params", "trainable_fraction")
# Measured, rounded to two significant figures (stages/lib/core/metrics.py): train's and evaluate's details'
# `compute`, versioned with the run that measured them.
COMPUTE = ("train_seconds", "peak_memory_mb", "predict_seconds_per_1000")


def approach_row(
    name: str, train_details: str | Path, eval_details: str | Path, predictions_dir: str | Path, ids: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The approach's metrics row (from train's and evaluate's details folders) and its test predictions, in the
    order of `ids`. Raises StageError naming the stages to run when a file is missing or lacks a test row."""
    train_file = Path(train_details) / f"{name}.json"
    eval_file = Path(eval_details) / f"{name}.json"
    predictions = Path(predictions_dir) / f"{name}.parquet"
    missing = [str(f) for f in (train_file, eval_file, predictions) if not f.is_file()]
    if missing:
        raise StageError(f"approach '{name}': {', '.join(missing)} not found; run train@{name} and evaluate@{name}")
    trained, evaluated = json.loads(train_file.read_text()), json.loads(eval_file.read_text())
    row = {k: evaluated.get(k) for k in QUALITY} | {k: trained.get(k) for k in COST}
    measured = trained.get("compute", {}) | evaluated.get("compute", {})
    # the checkpoint early stopping kept (best validation) and the steps trained
    row["kept_step"], row["steps"] = trained.get("best_validation", {}).get("step"), trained.get("steps")
    row["compute"] = {k: measured.get(k) for k in COMPUTE}
    if "seeds" in trained:  # train.seeds > 1: the spread of the validation metric over seeds
        row["seeds"] = trained["seeds"]
    table = pq.read_table(predictions, columns=["id", "predicted"])
    by_id = dict(zip(table.column("id").to_pylist(), table.column("predicted").to_pylist()))
    absent = [i for i in ids if i not in by_id]
    if absent:
        raise StageError(
            f"{predictions} has no prediction for {len(absent)} test rows (e.g. {absent[0]}); rerun evaluate@{name}"
        )
    return row, [by_id[i] for i in ids]


def tfidf_baseline(
    baseline: Any,
    train_texts: list[str],
    train_labels: list[str | None],
    test_texts: list[str],
    test_labels: list[str | None],
) -> tuple[dict[str, Any], list[str], dict[str, Any], Pipeline]:
    """Fit the TF-IDF + logistic regression baseline (`compare.baseline`) on the labelled train rows; score the
    labelled test rows. Returns its row (with `compute`: fit time, this process's peak memory, inference time per
    1,000 rows, two significant figures), its test predictions, its raw timings and the fitted pipeline."""
    pairs = [(t, y) for t, y in zip(train_texts, train_labels) if y is not None]
    pipeline = baseline_pipeline(baseline)
    start = time.perf_counter()
    pipeline.fit([t for t, _ in pairs], [y for _, y in pairs])
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probs = pipeline.predict_proba(test_texts)
    predict_seconds = time.perf_counter() - start
    classes = [str(c) for c in pipeline.classes_]
    predicted = [classes[int(p.argmax())] for p in probs]
    keep = [i for i, y in enumerate(test_labels) if y is not None]
    actual, predicted = [test_labels[i] for i in keep], [predicted[i] for i in keep]
    report = classification_report(actual, predicted, classes, probs[keep])
    timing = {
        "train_seconds": round(train_seconds, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "predict_seconds_per_1000": round(1000 * predict_seconds / max(len(test_texts), 1), 4),
    }
    row = {k: report[k] for k in QUALITY} | {
        "trainable_params": int(sum(est.coef_.size + est.intercept_.size for est in [pipeline[-1]])),
        "trainable_fraction": 1.0,
        "compute": {k: significant(timing[k]) for k in COMPUTE},
    }
    return row, predicted, timing, pipeline


def validation_curves(
    approaches: list[str], live_dir: Path, metric: str, train_details: str | Path | None = None
) -> list[dict[str, Any]]:
    """Validation `metric` by optimizer step of every approach, from dvclive's `eval/<metric>.tsv`, for one plot.

    dvclive's `step` counts log calls; the optimizer step is the logged `epoch` times the steps per epoch (train's
    details `steps` over the last logged epoch). Without `epoch.tsv` or `steps`, dvclive's step is kept (warned)."""
    points: list[dict[str, Any]] = []
    for name in approaches:
        folder = live_dir / name / "plots" / "metrics"
        path = folder / "eval" / f"{metric}.tsv"
        if not path.is_file():
            log.warning("%s: no validation curve at %s", name, path)
            continue
        to_step = _optimizer_steps(name, folder / "epoch.tsv", train_details)
        for values in _tsv(path):
            step = int(values["step"])
            points.append({"approach": name, "step": to_step.get(step, step), metric: float(values[metric])})
    return points


def _tsv(path: Path) -> list[dict[str, str]]:
    header, *body = path.read_text().splitlines()
    columns = header.split("\t")
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in body]


def _optimizer_steps(name: str, epochs: Path, train_details: str | Path | None) -> dict[int, int]:
    """dvclive step -> optimizer step, from the epoch logged at each dvclive step; {} when it cannot be known."""
    details = Path(train_details) / f"{name}.json" if train_details is not None else None
    steps = json.loads(details.read_text()).get("steps") if details is not None and details.is_file() else None
    logged = {int(v["step"]): float(v["epoch"]) for v in _tsv(epochs)} if epochs.is_file() else {}
    last = max(logged.values(), default=0.0)
    if not steps or last <= 0:
        log.warning("%s: no epoch.tsv or train steps; the validation curve's x is dvclive's logging step", name)
        return {}
    return {k: round(epoch * steps / last) for k, epoch in logged.items()}


def plot_row(name: str, kind: str, row: dict[str, Any], metric: str) -> dict[str, Any]:
    """One bar of the test-metric plot: the value and its bootstrap interval (None where compare has none)."""
    ci = row.get("ci", {}).get(metric, {})
    return {"approach": name, "kind": kind, metric: row[metric], "low": ci.get("low"), "high": ci.get("high")}
