"""compare for the SFT pipeline (`task: sft`): the causal-LM approaches against two baselines, with intervals.

The baselines are scored here, on the same test prompts as the approaches: the base model untuned (same
template, same greedy generation) and the retrieval baseline (the reference answer of the most similar train
prompt by TF-IDF cosine). Each row gets a percentile bootstrap interval of the mean per-answer score
(`compare.metric`), and each approach a paired bootstrap of its difference to the strongest baseline (the same
resampled prompts for both, the verdicts of stages/lib/compare/intervals.py). A run whose answers mostly never
stop (stopped share below one half) is shown as failed. The cost columns are measured: trainable parameters,
training time and peak memory from each train details file, generation time per 100 prompts from evaluate's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from scipy import stats

from stages.lib.compare.intervals import VERDICTS
from stages.lib.core.io import atomic_path, write_parquet
from stages.lib.core.metrics import read_previous, settle, significant
from stages.lib.model.causal.data import read_prompts
from stages.lib.model.causal.evaluation import score_answers
from stages.lib.model.causal.retrieval import retrieval_answers
from stages.lib.model.causal.stage import evaluate_model, load_for_eval

BASE, RETRIEVAL = "base_untuned", "retrieval_tfidf"
SHOWN = ("loss", "perplexity", "exact_match", "token_f1", "rouge_l", "stopped_share", "mean_generated_tokens")
FAILED_BELOW = 0.5  # stopped share under which a run is failed: most of its answers never end


def mean_interval(values: np.ndarray, *, n_resamples: int, confidence: float, seed: int) -> dict[str, float]:
    value = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2 or np.all(values == values[0]):
        return {"value": value, "low": value, "high": value}
    res = stats.bootstrap((values,), np.mean, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                          method="percentile", rng=np.random.default_rng(seed))  # fmt: skip
    return {"value": value, "low": float(res.confidence_interval.low), "high": float(res.confidence_interval.high)}


def paired_mean_difference(a: np.ndarray, b: np.ndarray, **options: Any) -> dict[str, Any]:
    """mean(a) - mean(b) on the same resampled prompts, its interval and the verdict."""
    ci = mean_interval(a - b, **options)
    verdict = VERDICTS[0] if ci["low"] > 0 else VERDICTS[2] if ci["high"] < 0 else VERDICTS[1]
    return {"difference": ci["value"], "low": ci["low"], "high": ci["high"], "verdict": verdict}


def baselines(params: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Score the untuned base model and the retrieval baseline; write their predictions; (details, tables)."""
    p, ev = params.paths, params.eval
    out = Path(p.compare.baselines)
    out.mkdir(parents=True, exist_ok=True)  # a folder output: DVC removed it before the run
    model, tok = load_for_eval(None, params)
    base, base_table = evaluate_model(model, tok, params, out / f"{BASE}.parquet")
    rendered = Path(p.train.rendered)
    _, train_prompts, train_answers = read_prompts(rendered / "train.parquet", None)
    ids, prompts, answers = read_prompts(rendered / "test.parquet", ev.limit)
    gens = retrieval_answers(train_prompts, train_answers, prompts, **ev.retrieval.model_dump(), tokenizer=tok)
    table, summary = score_answers(ids, prompts, answers, gens)
    write_parquet(table, out / f"{RETRIEVAL}.parquet")
    details = {BASE: base, RETRIEVAL: {k: round(v, 6) if isinstance(v, float) else v for k, v in summary.items()}}
    return details, {BASE: base_table, RETRIEVAL: table}


def run_compare(params: Any) -> dict[str, Any]:
    p, cfg = params.paths, params.compare
    metric, options = cfg.metric, cfg.bootstrap.model_dump()
    base_rows, base_tables = baselines(params)
    rows: dict[str, dict[str, Any]] = {}
    before = read_previous(p.compare.details).get("rows", {})  # measured here: settled against the last run
    for name, details in base_rows.items():
        measured = settle(_compute(details), before.get(name, {}).get("compute"))
        rows[name] = {"kind": "baseline", **{k: details.get(k) for k in SHOWN}, "compute": measured}
    for name, approach in params.approaches.items():
        train = _read(Path(p.train.details_dir) / f"{name}.json", f"train@{name}")
        ev = _read(Path(p.evaluate.details_dir) / f"{name}.json", f"evaluate@{name}")
        rows[name] = {
            "kind": approach.kind,
            **{k: ev.get(k) for k in SHOWN},
            "trainable_params": train["trainable_params"],
            "best_step": train["best_validation"]["step"],
            "steps": train["steps"],
            "compute": _compute(train) | _compute(ev) | {"peak_memory_mb": _peak(train, ev)},
        }
    predictions = Path(p.evaluate.predictions_dir)
    tables = base_tables | {n: pq.read_table(predictions / f"{n}.parquet") for n in params.approaches}
    scores = {n: _scores(tables[n], metric) for n in rows}
    ids = next(iter(scores.values()))[0]
    for name, (other, _) in scores.items():
        if other != ids:
            raise ValueError(f"{name}'s predictions cover other test prompts than {next(iter(scores))}'s; rerun it")
    for name, row in rows.items():
        row["ci"] = _round(mean_interval(scores[name][1], **options))
        row["failed"] = (row["stopped_share"] or 0.0) < FAILED_BELOW
    strongest = max((BASE, RETRIEVAL), key=lambda n: (rows[n][metric], n == RETRIEVAL))
    approaches = list(params.approaches)
    for name in approaches:
        rows[name]["vs_baseline"] = _round(paired_mean_difference(scores[name][1], scores[strongest][1], **options))
    ranked = sorted(approaches, key=lambda n: (rows[n]["failed"], -(rows[n][metric] or 0.0), n))
    best = ranked[0] if ranked else None
    sentence, recommended = recommend(ranked, rows, strongest, metric)
    metrics = {
        "metric": metric,
        "strongest_baseline": strongest,
        "rows": rows,
        "best": {
            "name": best,
            metric: rows[best][metric] if best else None,
            "margin_over_baseline": round(rows[best][metric] - rows[strongest][metric], 6) if best else None,
        },
        "recommended": recommended,
        "recommendation": sentence,
        "prompts": len(ids),
    }
    with atomic_path(p.compare.report) as tmp:
        tmp.write_text(render(ranked, rows, strongest, metric, sentence, cfg.bootstrap.confidence, len(ids)))
    return metrics


def recommend(ranked: list[str], rows: dict[str, Any], strongest: str, metric: str) -> tuple[str, str]:
    """One sentence and the name it recommends: the best approach that beats the strongest baseline, the
    cheapest to train among those with no evidence of a difference from it; else the baseline."""
    winners = [n for n in ranked if not rows[n]["failed"] and rows[n]["vs_baseline"]["verdict"] == VERDICTS[0]]
    if not winners:
        best = ranked[0] if ranked else None
        tail = f" (best approach: {best}, {metric} {rows[best][metric]:.3f})" if best else ""
        return (
            f"Use the {strongest} baseline: no fine-tuning approach beats it on test {metric} with "
            f"{'confidence' if ranked else 'any approach'} at this data size and budget{tail}.",
            strongest,
        )
    top = winners[0]
    close = [n for n in winners if n == top or _overlap(rows[n]["ci"], rows[top]["ci"])]
    pick = min(close, key=lambda n: (rows[n]["compute"].get("train_seconds") or 0.0, n))
    why = "the best" if pick == top else f"as good as {top} within the intervals and cheaper to train"
    return (
        f"Use {pick}: {why}, it beats the {strongest} baseline on test {metric} "
        f"({rows[pick][metric]:.3f} against {rows[strongest][metric]:.3f}).",
        pick,
    )


def render(ranked, rows, strongest, metric, sentence, confidence, n) -> str:
    pct = f"{confidence:.0%}"
    lines = [
        "# Comparison (SFT)", "", sentence, "",
        f"{n} test prompts, greedy generation. {metric} with its {pct} bootstrap interval; the paired difference "
        f"is against the strongest baseline ({strongest}), resampling the same prompts for both. Loss and "
        "perplexity are over every test row's trained tokens. A run is failed when under half of its answers "
        "stop before the token limit.", "",
        f"| model | {metric} ({pct} CI) | vs {strongest} | exact match | ROUGE-L | loss | perplexity | stopped | "
        "mean tokens | trainable params | train s | peak MB | generation s / 100 prompts |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for name in [*ranked, BASE, RETRIEVAL]:
        r, c = rows[name], rows[name]["compute"]
        vs = r.get("vs_baseline")
        versus = f"{vs['difference']:+.3f} [{vs['low']:+.3f}, {vs['high']:+.3f}] {vs['verdict']}" if vs else "-"
        gen = c.get("predict_seconds_per_1000")
        label = f"{name} ({r['kind']})" + (" **failed**" if r["failed"] else "")
        lines.append(
            f"| {label} | {r[metric]:.3f} [{r['ci']['low']:.3f}, {r['ci']['high']:.3f}] | {versus} | "
            f"{r['exact_match']:.3f} | {r['rouge_l']:.3f} | {_f(r['loss'])} | {_f(r['perplexity'], 1)} | "
            f"{r['stopped_share']:.2f} | {r['mean_generated_tokens']:.1f} | {_int(r.get('trainable_params'))} | "
            f"{_f(c.get('train_seconds'), 0)} | {_f(c.get('peak_memory_mb'), 0)} | {_f(gen and gen / 10, 2)} |"
        )
    lines += [
        "",
        "Times and memory are measured on the machine that ran the stage (two significant figures; a rerun within "
        "2x of the versioned figure keeps it, so only a real change of machine or settings shows in a diff).",
    ]
    return "\n".join(lines) + "\n"


def _scores(table: Any, metric: str) -> tuple[list[str], np.ndarray]:
    table = table.select(["id", metric]).sort_by("id")
    return table.column("id").to_pylist(), np.asarray(table.column(metric).to_pylist(), dtype=float)


def _compute(details: dict[str, Any]) -> dict[str, Any]:
    keys = ("train_seconds", "peak_memory_mb", "predict_seconds_per_1000")
    found = details.get("compute", details)
    return {k: significant(found[k]) for k in keys if found.get(k) is not None}


def _peak(*details: dict[str, Any]) -> float | None:
    """The higher peak memory of training and evaluation."""
    peaks = [d["compute"]["peak_memory_mb"] for d in details if d.get("compute", {}).get("peak_memory_mb")]
    return max(peaks) if peaks else None


def _read(path: Path, stage: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run {stage} first")
    return json.loads(path.read_text())


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["low"] <= b["high"] and b["low"] <= a["high"]


def _round(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
