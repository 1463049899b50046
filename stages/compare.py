"""compare: every approach side by side with the majority-class baseline.

Reads metrics/train/<approach>.json and metrics/eval/<approach>.json of every
entry of `approaches`; writes metrics/compare.json, reports/comparison.md (one
row per approach: quality, trainable parameters, training time, peak memory)
and plots/compare.json (bar chart). With `compare.gate`, fails when the best
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
from stages.lib.model.evaluation import classification_report
from stages.lib.model.textclf import read_split

log = get_logger("compare")

QUALITY = ("macro_f1", "accuracy", "weighted_f1", "mcc", "ece")
COST = ("trainable_params", "trainable_fraction", "train_seconds", "peak_memory_mb")
BASELINE = "majority_class"


def run(
    approaches: list[str], cfg: CompareParams, paths: ComparePaths, train_paths: TrainPaths, eval_paths: EvaluatePaths
) -> dict[str, Any]:
    """Build the comparison; raise StageError (writing nothing) when the gate fails."""
    rows: dict[str, dict[str, Any]] = {}
    for name in approaches:
        train_file = Path(train_paths.metrics_dir) / f"{name}.json"
        eval_file = Path(eval_paths.metrics_dir) / f"{name}.json"
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
    head = "| approach | macro-F1 | accuracy | MCC | ECE | trainable params | trainable % | train s | peak MB |"
    lines = [
        "# Approaches compared on the test split",
        "",
        f"Ranked by {metric}. Best: **{best}**." if best else "No approach.",
        "",
        head,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in ranked:
        r = rows[n]
        lines.append(
            f"| {n} | {_f(r['macro_f1'])} | {_f(r['accuracy'])} | {_f(r['mcc'])} | {_f(r['ece'])} | "
            f"{r['trainable_params']:,} | {100 * r['trainable_fraction']:.2f} | {r['train_seconds']:.1f} | "
            f"{r['peak_memory_mb']:.0f} |"
        )
    lines.append(
        f"| {BASELINE} (always '{baseline['label']}') | {_f(baseline['macro_f1'])} | {_f(baseline['accuracy'])} | "
        f"{_f(baseline['mcc'])} | - | 0 | 0.00 | 0.0 | - |"
    )
    lines += ["", "Peak MB: peak GPU memory allocated, or the stage process's peak resident memory on CPU.", ""]
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def main() -> None:
    params = load_params()
    p = params.paths
    metrics = run(list(params.approaches), params.compare, p.compare, p.train, p.evaluate)
    write_json(metrics, p.compare.metrics)


if __name__ == "__main__":
    cli(main)
