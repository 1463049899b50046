"""compare's report: the recommendation (which approach to use, and why) and the Markdown table a reviewer reads.

Rendered twice: the versioned reports/comparison.md without machine-dependent columns, and with `timings` (the
training time, peak memory and inference time of the last local run) the unversioned
reports/timings/comparison.md.
"""

from __future__ import annotations

from typing import Any

from stages.lib.compare.intervals import paired_difference
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
    lines += ["", BASELINE_ROWS, ""]
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
