"""compare's rows: each approach's metrics and test predictions, the TF-IDF baseline fitted and scored, and the
validation curves for the overlay plot."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import read_timings
from stages.lib.model.evaluation import classification_report
from stages.lib.model.tfidf import baseline_pipeline

log = get_logger("compare")

QUALITY = ("macro_f1", "accuracy", "weighted_f1", "mcc", "ece")
# Training time, peak memory and inference time are read from reports/timings/ (not versioned), see timings.
COST = ("trainable_params", "trainable_fraction")


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


def timings(name: str, timings_dir: str | Path | None) -> dict[str, Any]:
    """Training and inference figures of the approach's last local run ({} on a fresh clone)."""
    if timings_dir is None:
        return {}
    return read_timings(timings_dir, f"train/{name}") | read_timings(timings_dir, f"eval/{name}")


def tfidf_baseline(
    baseline: Any,
    train_texts: list[str],
    train_labels: list[str | None],
    test_texts: list[str],
    test_labels: list[str | None],
) -> tuple[dict[str, Any], list[str], dict[str, Any], Pipeline]:
    """Fit the TF-IDF + logistic regression baseline (`compare.baseline`) on the labelled train rows; score the
    labelled test rows. Returns its row, its test predictions, its timings and the fitted pipeline."""
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
    row = {k: report[k] for k in QUALITY} | {
        "trainable_params": int(sum(est.coef_.size + est.intercept_.size for est in [pipeline[-1]])),
        "trainable_fraction": 1.0,
    }
    timing = {
        "train_seconds": round(train_seconds, 2),
        "predict_seconds_per_1000": round(1000 * predict_seconds / max(len(test_texts), 1), 4),
    }
    return row, predicted, timing, pipeline


def validation_curves(approaches: list[str], live_dir: Path, metric: str) -> list[dict[str, Any]]:
    """Validation `metric` by step of every approach, from dvclive's `eval/<metric>.tsv`, for one overlay plot."""
    points: list[dict[str, Any]] = []
    for name in approaches:
        path = live_dir / name / "plots" / "metrics" / "eval" / f"{metric}.tsv"
        if not path.is_file():
            log.warning("%s: no validation curve at %s", name, path)
            continue
        header, *body = path.read_text().splitlines()
        columns = header.split("\t")
        for line in body:
            values = dict(zip(columns, line.split("\t"), strict=True))
            points.append({"approach": name, "step": int(values["step"]), metric: float(values[metric])})
    return points
