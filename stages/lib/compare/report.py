"""compare's report: the recommendation (which approach to use, and why) and the Markdown table a reviewer reads.

The cost columns are measured, not assumed: each approach's training time, peak memory and inference time per
1,000 rows from its train and evaluate details (`compute`, two significant figures, versioned with the run that
measured them), and the TF-IDF baseline's from compare itself.
"""

from __future__ import annotations

from typing import Any

from stages.lib.compare.intervals import paired_difference
from stages.lib.compare.rows import COMPUTE
from stages.lib.model.tfidf import NAME as TFIDF

MAJORITY = "majority_class"
# Said under the table: which rows the two baselines were fitted on.
BASELINE_ROWS = (
    "Both baselines are fitted on the split's train rows before augment and balance (the rows a user would give a "
    "classical model): the majority class is the most frequent label there."
)


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
    then, among those with no evidence of a difference to that best one, the cheapest as measured (training
    time, peak memory and inference time, each relative to the smallest among them, averaged), since a cheaper
    model that is as good is the better choice. With none better than the baseline, the baseline. The measured
    figures are rounded (two significant figures) and versioned with the runs, so the choice is reproducible.
    """
    better = [n for n, r in rows.items() if r["vs_tfidf"]["verdict"] == "better" and not r["failed"]]
    if not better:
        return {
            "name": TFIDF,
            "sentence": f"Use the TF-IDF + logistic regression baseline: no approach is measurably better on these "
            f"{len(actual)} test rows (paired bootstrap); {_cost_words(tfidf)}.",
        }
    top = max(better, key=lambda n: (rows[n][metric], n))
    tied = [
        n
        for n in better
        if n == top or paired_difference(actual, predicted[n], predicted[top], metric, **options)["verdict"] != "worse"
    ]
    cost = relative_cost({n: rows[n].get("compute", {}) for n in tied})
    pick = min(tied, key=lambda n: (cost[n], n != top, n))
    r = rows[pick]
    ci = r["ci"]["macro_f1"]
    why = (
        f"the highest {metric}"
        if pick == top
        else f"as good as {top} (no evidence of a difference) and cheaper as measured ({_versus(r, rows[top])})"
    )
    sentence = (
        f"Use **{pick}**: {why}, macro-F1 {r['macro_f1']:.4f} (95% CI {ci['low']:.4f} to {ci['high']:.4f}), "
        f"{r['vs_tfidf']['difference']:+.4f} over TF-IDF + logistic regression "
        f"({r['vs_tfidf']['low']:+.4f} to {r['vs_tfidf']['high']:+.4f})."
    )
    return {"name": pick, "sentence": sentence}


def relative_cost(compute: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Each candidate's measured cost: every measure (COMPUTE) that all candidates have, divided by the smallest
    value among them, averaged. 1.0 for all when no measure is shared (then the best score decides)."""
    shared = [k for k in COMPUTE if all((c.get(k) or 0) > 0 for c in compute.values())]
    if not shared:
        return dict.fromkeys(compute, 1.0)
    low = {k: min(c[k] for c in compute.values()) for k in shared}
    return {n: sum(c[k] / low[k] for k in shared) / len(shared) for n, c in compute.items()}


LABELS = {
    "train_seconds": ("trains in", "s"),
    "peak_memory_mb": ("peaks at", "MB"),
    "predict_seconds_per_1000": ("predicts 1,000 rows in", "s"),
}


def _versus(pick: dict[str, Any], other: dict[str, Any]) -> str:
    a, b = pick.get("compute", {}), other.get("compute", {})
    parts = [f"{LABELS[k][0]} {a[k]:g} {LABELS[k][1]} against {b[k]:g}" for k in COMPUTE if a.get(k) and b.get(k)]
    return "; ".join(parts)


def _cost_words(row: dict[str, Any]) -> str:
    c = row.get("compute", {})
    parts = [f"{LABELS[k][0]} {c[k]:g} {LABELS[k][1]}" for k in COMPUTE if c.get(k)]
    return "it " + ", ".join(parts) + " here" if parts else "it is the cheapest to train and serve"


def render(
    ranked: list[str],
    rows: dict[str, dict[str, Any]],
    tfidf: dict[str, Any],
    majority: dict[str, Any],
    metric: str,
    recommendation: dict[str, Any],
    confidence: float,
    n_test: int,
) -> str:
    """The report (reports/comparison.md)."""
    level = f"{100 * confidence:g}%"
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
        "trainable params | train s | peak MB | predict s / 1,000 rows |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in ranked:
        r = rows[n]
        d = r["vs_tfidf"]
        name = f"{n} (failed: at or below the majority class)" if r["failed"] else n
        lines.append(
            f"| {name} | {_ci(r, 'macro_f1')} | {_ci(r, 'accuracy')} | {d['difference']:+.4f} "
            f"[{d['low']:+.4f}, {d['high']:+.4f}] {d['verdict']} | {_f(r['mcc'])} | {_f(r['ece'])} | "
            f"{_int(r['trainable_params'])} | {_cost(r)} |"
        )
    lines.append(
        f"| {TFIDF} (baseline) | {_ci(tfidf, 'macro_f1')} | {_ci(tfidf, 'accuracy')} | - | {_f(tfidf['mcc'])} | "
        f"{_f(tfidf['ece'])} | {_int(tfidf['trainable_params'])} | {_cost(tfidf)} |"
    )
    lines.append(
        f"| {MAJORITY} (always '{majority['label']}') | {_ci(majority, 'macro_f1')} | {_ci(majority, 'accuracy')} | "
        f"- | {_f(majority['mcc'])} | - | 0 | - | - | - |"
    )
    lines += ["", BASELINE_ROWS, ""]
    kept = [f"{n} step {rows[n]['kept_step']} of {rows[n]['steps']}" for n in ranked if rows[n].get("kept_step")]
    if kept:
        lines += ["Checkpoint kept by early stopping (best validation score): " + "; ".join(kept) + ".", ""]
    lines += seed_lines(ranked, rows)
    lines.append(
        "Cost columns: measured by the run that trained and evaluated each approach (metrics/details/train and "
        "eval, `compute`) and by compare for TF-IDF, rounded to two significant figures; they depend on the "
        "machine and its load ('-': not measured), and a rerun within 2x of a versioned figure keeps it. "
        "Peak MB: peak GPU memory allocated, or the process's peak "
        "resident memory on CPU (libraries included). TF-IDF trainable params: the logistic regression's "
        "coefficients."
    )
    lines.append("")
    return "\n".join(lines)


def _cost(row: dict[str, Any]) -> str:
    c = row.get("compute", {})
    return " | ".join("-" if c.get(k) is None else f"{c[k]:g}" for k in COMPUTE)


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
