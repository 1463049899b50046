"""What the curve stage writes for people and plots: the recommendation table and fits (Markdown), the
plot rows (mean test score per approach and train size), and the note written when the curves are off.

Both task families share it: a `Measure` says which score the runs carry and what the table's cost is
(the classifiers' measured train seconds; for SFT the trainable parameters, since seconds stay out of the
versioned outputs there).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schemas.curve import CurveParams, SftCurveParams
from stages.lib.core.io import atomic_path, write_json
from stages.lib.curve.analysis import ESTIMATE_LIMIT, EXTRAPOLATION_LIMIT

OFF_NOTE = (
    "Learning curves are off (curve.enabled: false). Run them with `make curve`, that is\n"
    "`dvc exp run -S curve.enabled=true curve` (docs/curve.md).\n"
)
SFT_OFF_NOTE = (
    "Learning curves are off (curve.enabled: false). Run them from sft/ with\n"
    "`dvc exp run -S curve.enabled=true curve` (docs/sft_training.md).\n"
)


@dataclass(frozen=True)
class Measure:
    """What a curve's runs are scored by and how its report names things."""

    metric: str = "macro_f1"  # the runs' score key, in [0, 1]
    label: str = "macro-F1"
    rows: str = "labelled rows"
    subsets: str = "stratified, near-duplicate clusters kept whole"


CLASSIFIER = Measure()


def write_off(report: str | Path, runs: str | Path, note: str, base: str | Path | None = None) -> dict[str, Any]:
    """The outputs of a curve stage that is off: the note in the report (and in `base`'s folder), no runs."""
    if base is not None:
        with atomic_path(base) as tmp:
            tmp.mkdir(parents=True)
            (tmp / "README.md").write_text(note)
    with atomic_path(report) as tmp:
        tmp.write_text("# Learning curves\n\n" + note)
    write_json([], runs)
    return {"enabled": False, "runs": []}


def plot_rows(runs: list[dict[str, Any]], metric: str = "macro_f1") -> list[dict[str, Any]]:
    """One row per (approach, train rows): the mean test score over seeds, for `dvc plots` (log x)."""
    return [{"approach": a, "train_rows": n, metric: round(v, 6)} for (a, n), v in sorted(_means(runs, metric).items())]


def _means(runs: list[dict[str, Any]], metric: str) -> dict[tuple[str, int], float]:
    """Mean score per (approach, fraction), keyed by the mean train rows of that fraction's runs (seeds draw
    subsets a few rows apart, since clusters stay whole)."""
    by: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by[(r["approach"], r["fraction"])].append(r)
    return {
        (a, round(float(np.mean([r["train_rows"] for r in rs])))): float(np.mean([r[metric] for r in rs]))
        for (a, _), rs in by.items()
    }


def render(
    runs: list[dict[str, Any]],
    metrics: dict[str, Any],
    cfg: CurveParams | SftCurveParams,
    measure: Measure = CLASSIFIER,
) -> str:
    """The report: per train size the approach to use and the cheapest one within 0.01; the fits; crossings.

    The cost is the measured train seconds (and peak memory) where the runs carry them, else the trainable
    parameters; with validation losses in the runs (SFT) a table of them follows."""
    key, label = measure.metric, measure.label
    timed = all("train_seconds" in r for r in runs)
    by: dict[float, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by[r["fraction"]][r["approach"]].append(r)
    cost = ("train s | peak MB", "its train s") if timed else ("trainable params", "its trainable params")
    lines = [
        "# Learning curves: which approach for how much data",
        "",
        f"Test {label} (mean over seeds) by train rows; fractions {cfg.fractions} of the train split, nested, "
        f"{measure.subsets}; {cfg.seeds} seeds up to fraction {cfg.seeds_up_to:g}.",
        "",
        f"| with N {measure.rows} | use | its {label} | {cost[0]} | cheapest within 0.01 | {cost[1]} |",
        "|---:|---|---:|---:|---:|---|---:|" if timed else "|---:|---|---:|---:|---|---:|",
    ]
    for fraction in sorted(by):
        if not timed:
            lines.append(_untimed_line(by[fraction], key))
            continue
        n = round(float(np.mean([r["train_rows"] for rs in by[fraction].values() for r in rs])))
        stats = {
            a: (
                np.mean([r[key] for r in rs]),
                np.mean([r["train_seconds"] for r in rs]),
                max((r["peak_memory_mb"] or 0) for r in rs),
            )
            for a, rs in by[fraction].items()
        }
        best = max(stats, key=lambda a: (stats[a][0], a))
        near = [a for a in stats if stats[a][0] >= stats[best][0] - 0.01]
        cheap = min(near, key=lambda a: (stats[a][1], a))
        mem = f"{stats[best][2]:.0f}" if stats[best][2] else "-"
        lines.append(
            f"| {n:,} | {best} | {stats[best][0]:.4f} | {stats[best][1]:.1f} | {mem} | {cheap} | "
            f"{stats[cheap][1]:.1f} |"
        )
    lines += [
        "",
        "## Fits: error = a * n^b + c",
        "",
        f"| approach | b [{100 * cfg.bootstrap.confidence:g}% CI] | ceiling (1 - c) | rows for {label} "
        f"{metrics[f'target_{key}']} | fit check: largest predicted / actual |",
        "|---|---|---:|---:|---|",
    ]
    for name, e in metrics["approaches"].items():
        if not e.get("fit"):
            lines.append(f"| {name} | no fit ({e.get('fit_error')}) | - | - | - |")
            continue
        need = e["rows_for_target"]
        need_s = "not reached (ceiling below target)" if need is None else f"{need:,}"
        if e.get("rows_for_target_beyond"):
            need_s = f"more than {e['rows_for_target_beyond']:,} ({ESTIMATE_LIMIT:g}x the data seen; not estimated)"
        elif e["rows_for_target_extrapolated"]:
            need_s += f" (extrapolated beyond {EXTRAPOLATION_LIMIT:g}x the data seen: uncertain)"
        check = e["check"]
        check_s = "-" if not check else f"{check[f'predicted_{key}']:.4f} / {check[f'actual_{key}']:.4f}"
        lo, hi = e["b_interval"]
        lines.append(
            f"| {name} | {e['fit']['b']:.3f} [{lo:.3f}, {hi:.3f}] | {e[f'{key}_ceiling']:.4f} | {need_s} | {check_s} |"
        )
    lines += [
        "",
        f"Crossings (train rows where two fitted curves meet, up to {EXTRAPOLATION_LIMIT:g}x the largest subset):",
        "",
    ]
    for pair, xs in metrics["crossings"].items():
        lines.append(f"- {pair}: {', '.join(f'{x:,}' for x in xs) if xs else 'none'}")
    if timed:
        lines += ["", "Peak MB: the process's peak resident memory so far (it only grows across runs on CPU)."]
    if any(r.get("validation_loss") is not None for r in runs):
        lines += ["", *_losses(runs)]
    lines.append("")
    return "\n".join(lines)


def _untimed_line(runs_of: dict[str, list[dict[str, Any]]], key: str) -> str:
    """A table line whose cost is the trainable parameters (0 for a baseline that trains nothing)."""
    n = round(float(np.mean([r["train_rows"] for rs in runs_of.values() for r in rs])))
    stats = {a: (float(np.mean([r[key] for r in rs])), rs[0]["trainable_params"] or 0) for a, rs in runs_of.items()}
    best = max(stats, key=lambda a: (stats[a][0], a))
    cheap = min((a for a in stats if stats[a][0] >= stats[best][0] - 0.01), key=lambda a: (stats[a][1], a))
    return f"| {n:,} | {best} | {stats[best][0]:.4f} | {stats[best][1]:,} | {cheap} | {stats[cheap][1]:,} |"


def _losses(runs: list[dict[str, Any]]) -> list[str]:
    """Mean best validation loss per approach and train size (the trained approaches; lower is better)."""
    by: dict[tuple[float, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        if r.get("validation_loss") is not None:
            by[(r["fraction"], r["approach"])].append(r)
    names = sorted({a for _, a in by})
    lines = ["Validation loss on trained tokens (best checkpoint, mean over seeds):", "",
             "| train rows | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]  # fmt: skip
    for fraction in sorted({f for f, _ in by}):
        rs = [r for a in names for r in by.get((fraction, a), [])]
        cells = [f"{np.mean([r['validation_loss'] for r in by[(fraction, a)]]):.4f}" if (fraction, a) in by else "-"
                 for a in names]  # fmt: skip
        lines.append(f"| {round(float(np.mean([r['train_rows'] for r in rs]))):,} | " + " | ".join(cells) + " |")
    return lines
