"""compare: every approach side by side with a TF-IDF baseline and the majority class, with intervals.

Reads metrics/details/{train,eval}/<approach>.json and the test predictions
data/predictions/<approach>.parquet of every entry of `approaches`;
fits the two baselines on the split's train rows as they are before augment and
balance (data/split/train.parquet): the classical one (TF-IDF word + character
n-grams, logistic regression; `compare.baseline`) and the majority class;
bootstraps the test rows for a confidence interval of each macro-F1 and accuracy
and for the paired difference of each approach to the TF-IDF baseline, with a
verdict. Writes metrics/compare.json (headline), metrics/details/compare.json,
reports/comparison.md (a one-sentence recommendation, then one table), the fitted
baseline (models/tfidf_logreg/: terms, idf and coefficients, no pickle; `predict --approach tfidf_logreg`),
plots/compare.json (each approach's and baseline's score with its bootstrap
interval) and plots/validation_macro_f1.json (every approach's validation curve
by optimizer step, overlaid). Training time, peak memory and inference time per
1,000 rows are measured: each approach's from its train and evaluate details
(`compute`, two significant figures), the baseline's here; the table shows them
and the recommendation weighs them. With `compare.gate`, fails when the best
approach is below the minimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.compare import CompareParams
from schemas.paths import ComparePaths, EvaluatePaths, TrainPaths
from schemas.tfidf import solver_problems
from stages.lib.compare.intervals import interval, paired_difference
from stages.lib.compare.report import MAJORITY, TFIDF, recommend, render
from stages.lib.compare.rows import approach_row, plot_row, tfidf_baseline, validation_curves
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import read_previous, settle, write_metrics, write_timings
from stages.lib.model.baselines import majority_scores, split_train
from stages.lib.model.evaluation import rounded
from stages.lib.model.textclf import label_set, read_split
from stages.lib.model.tfidf import save_baseline
from stages.lib.text.fingerprint import text_fingerprint

log = get_logger("compare")

INTERVALS = ("macro_f1", "accuracy")


def run(
    approaches: list[str],
    cfg: CompareParams,
    paths: ComparePaths,
    train_paths: TrainPaths,
    eval_paths: EvaluatePaths,
    split_dir: str | Path,
    timings_dir: str | Path | None = None,
    text: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the comparison; raise StageError (writing nothing) when the gate fails.

    Both baselines are fitted on `split_dir`'s train rows (before augment and balance). With `timings_dir`, the
    baseline's raw timings go to `<timings_dir>/compare.json`. `text` (the text settings' fingerprint) is recorded
    in the baseline's folder, so predict refuses other settings.
    """
    test_ids, test_texts, test_labels = read_split(train_paths.split("test"))
    _, train_texts, train_labels = read_split(split_train(split_dir))
    problems = solver_problems("compare.baseline.classifier", cfg.baseline.classifier.solver, label_set(train_labels))
    if problems:  # checked before any training too (stages/lib/model/preflight.py); here for a changed solver
        raise StageError(problems[0])
    scored = [i for i, label in enumerate(test_labels) if label is not None]
    actual = [test_labels[i] for i in scored]
    rows: dict[str, dict[str, Any]] = {}
    predicted: dict[str, list[str]] = {}
    for name in approaches:
        rows[name], predicted[name] = approach_row(
            name,
            train_paths.details_dir,
            eval_paths.details_dir,
            eval_paths.predictions_dir,
            [test_ids[i] for i in scored],
        )
    tfidf, predicted[TFIDF], timed, fitted = tfidf_baseline(
        cfg.baseline, train_texts, train_labels, test_texts, test_labels
    )
    tfidf["compute"] = settle(tfidf["compute"], read_previous(paths.details).get("tfidf", {}).get("compute"))
    majority = majority_scores(train_labels, actual)
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
    table = (ranked, rows, tfidf, majority, metric, recommendation, boot.confidence, len(actual))
    report = render(*table)
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
        save_baseline(fitted, cfg.baseline, tmp, text)
    if timings_dir is not None:
        write_timings({f"tfidf_{k}": v for k, v in timed.items()}, timings_dir, "compare")
    curves = validation_curves(approaches, Path(train_paths.live_dir), metric, train_paths.details_dir)
    write_json(curves, paths.curves)
    plot = [plot_row(n, "approach", rows[n], metric) for n in ranked]
    plot += [plot_row(TFIDF, "baseline", tfidf, metric), plot_row(MAJORITY, "baseline", majority, metric)]
    write_json(plot, paths.plot)
    log.info("%s", recommendation["sentence"])
    return metrics


def main() -> None:
    params = load_params()
    p = params.paths
    if params.task == "sft":  # against the untuned and retrieval baselines: stages/lib/model/causal/compare.py
        from stages.lib.model.causal import compare as sft

        try:
            metrics = sft.run_compare(params)
        except (FileNotFoundError, ValueError) as exc:
            raise StageError(str(exc)) from None
        write_metrics(metrics, ("best.name", f"best.{params.compare.metric}", "best.margin_over_baseline",
                                "recommended"), p.compare.metrics, p.compare.details)  # fmt: skip
        return
    text = text_fingerprint(params.clean.normalize.model_dump(), params.clean.pii.model_dump())
    metrics = run(list(params.approaches), params.compare, p.compare, p.train, p.evaluate, p.split.dir, p.timings, text)
    headline = (f"best.{params.compare.metric}", "best.margin_over_baseline", "best.margin_over_tfidf")
    write_metrics(metrics, headline, p.compare.metrics, p.compare.details)


if __name__ == "__main__":
    cli(main)
