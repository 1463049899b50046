"""compare: every approach side by side with the majority-class baseline.

Reads metrics/details/{train,eval}/<approach>.json of every entry of
`approaches`; writes metrics/compare.json (the best score and its margin),
metrics/details/compare.json, reports/comparison.md (one row per approach:
quality, trainable parameters), plots/compare.json (bar chart) and
plots/validation_macro_f1.json (every approach's validation curve, overlaid).
Training time and peak memory go to reports/timings/comparison.md, outside
git and DVC. With `compare.gate`, fails when the best
approach is below the minimum.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.compare import CompareParams
from schemas.paths import ComparePaths, EvaluatePaths, TrainPaths
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import read_timings, write_metrics
from stages.lib.model.evaluation import classification_report
from stages.lib.model.textclf import read_split

log = get_logger("compare")

QUALITY = ("macro_f1", "accuracy", "weighted_f1", "mcc", "ece")
COST = ("trainable_params", "trainable_fraction")
# Measured on the machine that ran train@<approach> (reports/timings/train/<approach>.json, not versioned).
TIMINGS = ("train_seconds", "peak_memory_mb")
BASELINE = "majority_class"


def run(
    approaches: list[str],
    cfg: CompareParams,
    paths: ComparePaths,
    train_paths: TrainPaths,
    eval_paths: EvaluatePaths,
    timings_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Build the comparison; raise StageError (writing nothing) when the gate fails.

    With `timings_dir`, also writes `<timings_dir>/comparison.md`: the same ranking with each approach's
    training time and peak memory from its last run on this machine (outside git and DVC: they vary per run).
    """
    rows: dict[str, dict[str, Any]] = {}
    for name in approaches:
        train_file = Path(train_paths.details_dir) / f"{name}.json"
        eval_file = Path(eval_paths.details_dir) / f"{name}.json"
        missing = [str(f) for f in (train_file, eval_file) if not f.is_file()]
        if missing:
            raise StageError(f"approach '{name}': {', '.join(missing)} not found; run train@{name} and evaluate@{name}")
        trained, evaluated = json.loads(train_file.read_text()), json.loads(eval_file.read_text())
        rows[name] = {k: evaluated.get(k) for k in QUALITY} | {k: trained.get(k) for k in COST}
    baseline = majority_baseline(Path(train_paths.data_dir) / "train.parquet", eval_paths.test)
    metric = cfg.metric
    ranked = sorted(rows, key=lambda n: (-(rows[n][metric] or 0.0), n))
    best = ranked[0] if ranked else None
    metrics: dict[str, Any] = {
        "approaches": rows,
        "baseline": baseline,
        "best": {
            metric: rows[best][metric] if best else None,
            "margin_over_baseline": round(rows[best][metric] - baseline[metric], 6) if best else None,
        },
    }
    report = render(ranked, rows, baseline, metric, best)
    if cfg.gate is not None:
        value = rows[best][cfg.gate.metric] if best else None
        if value is None or value < cfg.gate.minimum:
            raise StageError(
                f"quality gate failed: best {cfg.gate.metric} is {value} ({best}), below compare.gate.minimum "
                f"{cfg.gate.minimum}\n{report}"
            )
    with atomic_path(paths.report) as tmp:
        tmp.write_text(report)
    if timings_dir is not None:
        timings = {n: read_timings(timings_dir, f"train/{n}") for n in ranked}
        with atomic_path(Path(timings_dir) / "comparison.md") as tmp:
            tmp.write_text(render_timings(ranked, rows, timings))
    write_json(validation_curves(approaches, Path(train_paths.live_dir), metric), paths.curves)
    plot = [{"approach": n, metric: rows[n][metric]} for n in ranked]
    plot.append({"approach": BASELINE, metric: baseline[metric]})
    write_json(plot, paths.plot)
    log.info("best: %s (%s %.4f; baseline %.4f)", best, metric, rows[best][metric] if best else 0, baseline[metric])
    return metrics


def majority_baseline(train_path: str | Path, test_path: str | Path) -> dict[str, Any]:
    """Scores of always predicting the most frequent train label (ties: the first in sorted order)."""
    _, _, train_labels = read_split(train_path)
    _, _, test_labels = read_split(test_path)
    counts = Counter(label for label in train_labels if label is not None)
    majority = sorted(counts, key=lambda label: (-counts[label], label))[0]
    actual = [label for label in test_labels if label is not None]
    report = classification_report(actual, [majority] * len(actual), sorted(counts))
    return {k: report[k] for k in ("macro_f1", "accuracy", "weighted_f1", "mcc")} | {"label": majority}


def render(
    ranked: list[str], rows: dict[str, dict[str, Any]], baseline: dict[str, Any], metric: str, best: str | None
) -> str:
    head = "| approach | macro-F1 | accuracy | MCC | ECE | trainable params | trainable % |"
    lines = [
        "# Approaches compared on the test split",
        "",
        f"Ranked by {metric}. Best: **{best}**." if best else "No approach.",
        "",
        head,
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in ranked:
        r = rows[n]
        lines.append(
            f"| {n} | {_f(r['macro_f1'])} | {_f(r['accuracy'])} | {_f(r['mcc'])} | {_f(r['ece'])} | "
            f"{r['trainable_params']:,} | {100 * r['trainable_fraction']:.2f} |"
        )
    lines.append(
        f"| {BASELINE} (always '{baseline['label']}') | {_f(baseline['macro_f1'])} | {_f(baseline['accuracy'])} | "
        f"{_f(baseline['mcc'])} | - | 0 | 0.00 |"
    )
    lines += [
        "",
        "Training time and peak memory vary with the machine and its load, so they are not versioned: each run",
        "writes them to reports/timings/ (see reports/timings/comparison.md after `dvc repro`).",
        "",
    ]
    return "\n".join(lines)


def render_timings(ranked: list[str], rows: dict[str, dict[str, Any]], timings: dict[str, dict[str, Any]]) -> str:
    """The cost table of the last local run (time, memory); '-' for an approach not trained on this machine."""
    lines = [
        "# Approaches: training time and memory of the last run on this machine",
        "",
        "| approach | macro-F1 | trainable params | train s | peak MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for n in ranked:
        t = timings.get(n, {})
        seconds = "-" if t.get("train_seconds") is None else f"{t['train_seconds']:.1f}"
        memory = "-" if t.get("peak_memory_mb") is None else f"{t['peak_memory_mb']:.0f}"
        lines.append(f"| {n} | {_f(rows[n]['macro_f1'])} | {rows[n]['trainable_params']:,} | {seconds} | {memory} |")
    lines += ["", "Peak MB: peak GPU memory allocated, or the stage process's peak resident memory on CPU.", ""]
    return "\n".join(lines)


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


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def main() -> None:
    params = load_params()
    p = params.paths
    metrics = run(list(params.approaches), params.compare, p.compare, p.train, p.evaluate, p.timings)
    headline = (f"best.{params.compare.metric}", "best.margin_over_baseline")
    write_metrics(metrics, headline, p.compare.metrics, p.compare.details)


if __name__ == "__main__":
    cli(main)
