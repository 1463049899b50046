"""compare: every approach side by side with a TF-IDF baseline and the majority class, with intervals.

Reads metrics/details/{train,eval}/<approach>.json and the test predictions
data/predictions/<approach>.parquet of every entry of `approaches`;
trains the classical baseline (TF-IDF word + character n-grams, logistic
regression; `compare.baseline`) on the same train split; bootstraps the test
rows for a confidence interval of each macro-F1 and accuracy and for the paired
difference of each approach to the baseline, with a verdict. Writes
metrics/compare.json (headline), metrics/details/compare.json,
reports/comparison.md (a one-sentence recommendation, then one table), the fitted
baseline (models/tfidf_logreg/: terms, idf and coefficients, no pickle; `predict --approach tfidf_logreg`),
plots/compare.json and plots/validation_macro_f1.json (every approach's
validation curve, overlaid). Training time, peak memory and inference time vary
with the machine, so they stay out of git and DVC: the same table with those
columns goes to reports/timings/comparison.md. With `compare.gate`, fails when
the best approach is below the minimum.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from schemas import load_params
from schemas.compare import CompareParams
from schemas.paths import ComparePaths, EvaluatePaths, TrainPaths
from stages.lib.compare.intervals import interval, paired_difference
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import read_timings, write_metrics, write_timings
from stages.lib.model.evaluation import classification_report, rounded
from stages.lib.model.textclf import read_split
from stages.lib.model.tfidf import NAME as TFIDF_NAME
from stages.lib.model.tfidf import baseline_pipeline, save_baseline

log = get_logger("compare")

QUALITY = ("macro_f1", "accuracy", "weighted_f1", "mcc", "ece")
# Training time, peak memory and inference time are read from reports/timings/ (not versioned), see _timings.
COST = ("trainable_params", "trainable_fraction")
TFIDF = TFIDF_NAME
MAJORITY = "majority_class"
INTERVALS = ("macro_f1", "accuracy")


def run(
    approaches: list[str],
    cfg: CompareParams,
    paths: ComparePaths,
    train_paths: TrainPaths,
    eval_paths: EvaluatePaths,
    timings_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Build the comparison; raise StageError (writing nothing) when the gate fails.

    With `timings_dir`, also writes `<timings_dir>/comparison.md`: the same table with each approach's training
    time, peak memory and inference time from its last run on this machine.
    """
    test_ids, test_texts, test_labels = read_split(train_paths.split("test"))
    scored = [i for i, label in enumerate(test_labels) if label is not None]
    actual = [test_labels[i] for i in scored]
    rows: dict[str, dict[str, Any]] = {}
    predicted: dict[str, list[str]] = {}
    for name in approaches:
        rows[name], predicted[name] = _approach(name, train_paths, eval_paths, [test_ids[i] for i in scored])
    timings = {n: _timings(n, timings_dir) for n in approaches}
    tfidf, predicted[TFIDF], timings[TFIDF], fitted = tfidf_baseline(
        cfg, Path(train_paths.data_dir) / "train.parquet", test_texts, test_labels
    )
    majority = majority_baseline(Path(train_paths.data_dir) / "train.parquet", actual)
    predicted[MAJORITY] = [majority["label"]] * len(actual)
    boot = cfg.bootstrap
    options = {"n_resamples": boot.n_resamples, "confidence": boot.confidence, "seed": boot.seed}
    for name, row in [*rows.items(), (TFIDF, tfidf), (MAJORITY, majority)]:
        row["ci"] = {m: rounded(interval(actual, predicted[name], m, **options)) for m in INTERVALS}
    for name, row in rows.items():
        row["vs_tfidf"] = rounded(paired_difference(actual, predicted[name], predicted[TFIDF], "macro_f1", **options))
        row["failed"] = row["macro_f1"] <= majority["macro_f1"]  # Mosbach et al. 2021: a degenerate run
    metric = cfg.metric
    ranked = sorted(rows, key=lambda n: (-(rows[n][metric] or 0.0), n))
    best = ranked[0] if ranked else None
    recommendation = recommend(rows, tfidf, metric, actual, predicted, options)
    metrics: dict[str, Any] = {
        "approaches": rows,
        "baseline": majority,
        "tfidf": tfidf,
        "best": {
            metric: rows[best][metric] if best else None,
            "margin_over_baseline": round(rows[best][metric] - majority[metric], 6) if best else None,
            "margin_over_tfidf": round(rows[best][metric] - tfidf[metric], 6) if best else None,
        },
        "recommended": recommendation["name"],
    }
    report = render(ranked, rows, tfidf, majority, metric, recommendation, boot.confidence, len(actual))
    report_timed = render(ranked, rows, tfidf, majority, metric, recommendation, boot.confidence, len(actual), timings)
    if cfg.gate is not None:
        value = rows[best][cfg.gate.metric] if best else None
        if value is None or value < cfg.gate.minimum:
            raise StageError(
                f"quality gate failed: best {cfg.gate.metric} is {value} ({best}), below compare.gate.minimum "
                f"{cfg.gate.minimum}\n{report}"
            )
    with atomic_path(paths.report) as tmp:
        tmp.write_text(report)
    with atomic_path(paths.baseline_model) as tmp:
        save_baseline(fitted, cfg.baseline, tmp)
    if timings_dir is not None:
        with atomic_path(Path(timings_dir) / "comparison.md") as tmp:
            tmp.write_text(report_timed)
        write_timings({"tfidf_train_seconds": timings[TFIDF]["train_seconds"]}, timings_dir, "compare")
    write_json(validation_curves(approaches, Path(train_paths.live_dir), metric), paths.curves)
    plot = [{"approach": n, metric: rows[n][metric]} for n in ranked]
    plot += [{"approach": TFIDF, metric: tfidf[metric]}, {"approach": MAJORITY, metric: majority[metric]}]
    write_json(plot, paths.plot)
    log.info("%s", recommendation["sentence"])
    return metrics


def _approach(
    name: str, train_paths: TrainPaths, eval_paths: EvaluatePaths, ids: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The approach's metrics row and its test predictions, in the order of `ids`."""
    train_file = Path(train_paths.details_dir) / f"{name}.json"
    eval_file = Path(eval_paths.details_dir) / f"{name}.json"
    predictions = Path(eval_paths.predictions_dir) / f"{name}.parquet"
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


def _timings(name: str, timings_dir: str | Path | None) -> dict[str, Any]:
    """Training and inference figures of the approach's last local run ({} on a fresh clone)."""
    if timings_dir is None:
        return {}
    return read_timings(timings_dir, f"train/{name}") | read_timings(timings_dir, f"eval/{name}")


def tfidf_baseline(
    cfg: CompareParams, train_path: str | Path, test_texts: list[str], test_labels: list[str | None]
) -> tuple[dict[str, Any], list[str], dict[str, Any], Pipeline]:
    """Train the TF-IDF + logistic regression baseline on the labelled train rows; score the labelled test rows.
    Returns its row, its test predictions, its timings and the fitted pipeline."""
    _, texts, labels = read_split(train_path)
    pairs = [(t, y) for t, y in zip(texts, labels) if y is not None]
    pipeline = baseline_pipeline(cfg.baseline)
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


def majority_baseline(train_path: str | Path, actual: list[str]) -> dict[str, Any]:
    """Scores of always predicting the most frequent train label (ties: the first in sorted order)."""
    _, _, train_labels = read_split(train_path)
    counts = Counter(label for label in train_labels if label is not None)
    majority = sorted(counts, key=lambda label: (-counts[label], label))[0]
    report = classification_report(actual, [majority] * len(actual), sorted(counts))
    return {k: report[k] for k in ("macro_f1", "accuracy", "weighted_f1", "mcc")} | {"label": majority}


def recommend(
    rows: dict[str, dict[str, Any]],
    tfidf: dict[str, Any],
    metric: str,
    actual: list[str],
    predicted: dict[str, list[str]],
    options: dict[str, Any],
) -> dict[str, Any]:
    """The approach to use, and why, in one sentence.

    Among the approaches measurably better than the TF-IDF baseline (paired bootstrap), the best by `metric`;
    then the one with the fewest trainable parameters among those with no evidence of a difference to that best
    one, since a cheaper model that is as good is the better choice. With none better than the baseline, the
    baseline. Only deterministic figures decide (not wall-clock time), so the versioned report is the same on
    every machine.
    """
    better = [n for n, r in rows.items() if r["vs_tfidf"]["verdict"] == "better" and not r["failed"]]
    if not better:
        return {
            "name": TFIDF,
            "sentence": f"Use the TF-IDF + logistic regression baseline: no approach is measurably better on these "
            f"{len(actual)} test rows (paired bootstrap), and it is by far the cheapest to train and serve.",
        }
    top = max(better, key=lambda n: (rows[n][metric], n))
    tied = [
        n
        for n in better
        if n == top or paired_difference(actual, predicted[n], predicted[top], metric, **options)["verdict"] != "worse"
    ]
    pick = min(tied, key=lambda n: (rows[n]["trainable_params"] or 0, n))
    r = rows[pick]
    ci = r["ci"]["macro_f1"]
    why = (
        f"the highest {metric}"
        if pick == top
        else f"as good as {top} (no evidence of a difference) with {_times(rows[top], r)} fewer trainable parameters"
    )
    sentence = (
        f"Use **{pick}**: {why}, macro-F1 {r['macro_f1']:.4f} (95% CI {ci['low']:.4f} to {ci['high']:.4f}), "
        f"{r['vs_tfidf']['difference']:+.4f} over TF-IDF + logistic regression "
        f"({r['vs_tfidf']['low']:+.4f} to {r['vs_tfidf']['high']:+.4f})."
    )
    return {"name": pick, "sentence": sentence}


def _times(big: dict[str, Any], small: dict[str, Any]) -> str:
    a, b = big.get("trainable_params") or 0, small.get("trainable_params") or 0
    return f"{a / b:.1f}x" if b > 0 else "far"


def render(
    ranked: list[str],
    rows: dict[str, dict[str, Any]],
    tfidf: dict[str, Any],
    majority: dict[str, Any],
    metric: str,
    recommendation: dict[str, Any],
    confidence: float,
    n_test: int,
    timings: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The report; with `timings` (the local run's), the cost columns too (reports/timings/comparison.md)."""
    level = f"{100 * confidence:g}%"
    timed = timings is not None
    t = timings or {}
    lines = [
        "# Approaches compared on the test split",
        "",
        recommendation["sentence"],
        "",
        f"{n_test} test rows, ranked by {metric}. Intervals: {level} bootstrap over the test rows. "
        "vs TF-IDF: the paired-bootstrap difference in macro-F1 to the TF-IDF + logistic regression baseline "
        "and its verdict.",
        "",
        f"| approach | macro-F1 [{level} CI] | accuracy [{level} CI] | vs TF-IDF (macro-F1) | MCC | ECE | "
        "trainable params" + (" | train s | peak MB | predict s / 1,000 rows |" if timed else " |"),
        "|---|---|---|---|---:|---:|---:" + ("|---:|---:|---:|" if timed else "|"),
    ]

    def cost(name: str) -> str:
        if not timed:
            return ""
        c = t.get(name, {})
        return (
            f" {_s(c.get('train_seconds'))} | {_mb(c.get('peak_memory_mb'))} | "
            f"{_s(c.get('predict_seconds_per_1000'), 2)} |"
        )

    for n in ranked:
        r = rows[n]
        d = r["vs_tfidf"]
        name = f"{n} (failed: at or below the majority class)" if r["failed"] else n
        lines.append(
            f"| {name} | {_ci(r, 'macro_f1')} | {_ci(r, 'accuracy')} | {d['difference']:+.4f} "
            f"[{d['low']:+.4f}, {d['high']:+.4f}] {d['verdict']} | {_f(r['mcc'])} | {_f(r['ece'])} | "
            f"{_int(r['trainable_params'])} |{cost(n)}"
        )
    lines.append(
        f"| {TFIDF} (baseline) | {_ci(tfidf, 'macro_f1')} | {_ci(tfidf, 'accuracy')} | - | {_f(tfidf['mcc'])} | "
        f"{_f(tfidf['ece'])} | {_int(tfidf['trainable_params'])} |{cost(TFIDF)}"
    )
    lines.append(
        f"| {MAJORITY} (always '{majority['label']}') | {_ci(majority, 'macro_f1')} | {_ci(majority, 'accuracy')} | "
        f"- | {_f(majority['mcc'])} | - | 0 |" + (" 0 | - | - |" if timed else "")
    )
    lines.append("")
    lines += seed_lines(ranked, rows)
    if timed:
        lines.append(
            "Peak MB: peak GPU memory allocated, or the training process's peak resident memory on CPU (libraries "
            "included). Times are wall-clock seconds of the last run on this machine ('-': not run here). TF-IDF "
            "trainable params: the logistic regression's coefficients."
        )
    else:
        lines.append(
            "Training time, peak memory and inference time vary with the machine and its load, so they are not "
            "versioned: `dvc repro` writes this table with those columns to reports/timings/comparison.md. TF-IDF "
            "trainable params: the logistic regression's coefficients."
        )
    lines.append("")
    return "\n".join(lines)


def seed_lines(ranked: list[str], rows: dict[str, dict[str, Any]]) -> list[str]:
    """The spread over seeds (train.seeds > 1) of each approach's best validation metric, with failed runs."""
    spread = [(n, rows[n]["seeds"]) for n in ranked if rows[n].get("seeds")]
    if not spread:
        return []
    lines = [
        "Spread over training seeds (train.seeds): the best validation score of each seed's run; the table above "
        "is the first seed's model. Failed: runs at or below the majority class on validation (Mosbach et al. "
        "2021).",
        "",
        "| approach | seeds | validation metric | mean | std | min | max | failed runs |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for n, s in spread:
        lines.append(
            f"| {n} | {', '.join(str(x) for x in s['seeds'])} | {s['metric']} | {_f(s['mean'])} | {_f(s['std'])} | "
            f"{_f(s['min'])} | {_f(s['max'])} | {s['failed']} of {len(s['seeds'])} |"
        )
    return [*lines, ""]


def _ci(row: dict[str, Any], metric: str) -> str:
    ci = row["ci"][metric]
    return f"{ci['value']:.4f} [{ci['low']:.4f}, {ci['high']:.4f}]"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


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


def main() -> None:
    params = load_params()
    p = params.paths
    metrics = run(list(params.approaches), params.compare, p.compare, p.train, p.evaluate, p.timings)
    headline = (f"best.{params.compare.metric}", "best.margin_over_baseline", "best.margin_over_tfidf")
    write_metrics(metrics, headline, p.compare.metrics, p.compare.details)


if __name__ == "__main__":
    cli(main)
