"""What the curve stage writes for people and plots: the recommendation table and fits (Markdown), the
plot rows (mean macro-F1 per approach and train size), and the note written when the curves are off."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from schemas.curve import CurveParams
from stages.lib.curve.analysis import ESTIMATE_LIMIT, EXTRAPOLATION_LIMIT

OFF_NOTE = (
    "Learning curves are off (curve.enabled: false). Run them with `make curve`, that is\n"
    "`dvc exp run -S curve.enabled=true curve` (docs/curve.md).\n"
)


def plot_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (approach, train rows): the mean test macro-F1 over seeds, for `dvc plots` (log x)."""
    return [{"approach": a, "train_rows": n, "macro_f1": round(f1, 6)} for (a, n), f1 in sorted(_means(runs).items())]


def _means(runs: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """Mean macro-F1 per (approach, fraction), keyed by the mean train rows of that fraction's runs (seeds draw
    subsets a few rows apart, since clusters stay whole)."""
    by: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by[(r["approach"], r["fraction"])].append(r)
    return {
        (a, round(float(np.mean([r["train_rows"] for r in rs])))): float(np.mean([r["macro_f1"] for r in rs]))
        for (a, _), rs in by.items()
    }


def render(runs: list[dict[str, Any]], metrics: dict[str, Any], cfg: CurveParams) -> str:
    by: dict[float, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by[r["fraction"]][r["approach"]].append(r)
    lines = [
        "# Learning curves: which approach for how much data",
        "",
        f"Test macro-F1 (mean over seeds) by train rows; fractions {cfg.fractions} of the train split, nested, "
        f"stratified, near-duplicate clusters kept whole; {cfg.seeds} seeds up to fraction {cfg.seeds_up_to:g}.",
        "",
        "| with N labelled rows | use | its macro-F1 | train s | peak MB | cheapest within 0.01 | its train s |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for fraction in sorted(by):
        n = round(float(np.mean([r["train_rows"] for rs in by[fraction].values() for r in rs])))
        stats = {
            a: (
                np.mean([r["macro_f1"] for r in rs]),
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
        f"| approach | b [{100 * cfg.bootstrap.confidence:g}% CI] | ceiling (1 - c) | rows for macro-F1 "
        f"{cfg.target_macro_f1} | fit check: largest predicted / actual |",
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
        check_s = "-" if not check else f"{check['predicted_macro_f1']:.4f} / {check['actual_macro_f1']:.4f}"
        lo, hi = e["b_interval"]
        lines.append(
            f"| {name} | {e['fit']['b']:.3f} [{lo:.3f}, {hi:.3f}] | {e['macro_f1_ceiling']:.4f} | "
            f"{need_s} | {check_s} |"
        )
    lines += [
        "",
        f"Crossings (train rows where two fitted curves meet, up to {EXTRAPOLATION_LIMIT:g}x the largest subset):",
        "",
    ]
    for pair, xs in metrics["crossings"].items():
        lines.append(f"- {pair}: {', '.join(f'{x:,}' for x in xs) if xs else 'none'}")
    lines += ["", "Peak MB: the process's peak resident memory so far (it only grows across runs on CPU).", ""]
    return "\n".join(lines)
