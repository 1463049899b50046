"""curve: learning curves, i.e. which approach for how much labelled data and compute.

Trains every approach of `curve.approaches` on nested, stratified, group-aware
subsets of the train split (`curve.fractions`; `curve.seeds` seeds at the small
ones), with the validation and test splits unchanged, and the TF-IDF baseline
of `compare.baseline` on the same subsets. Records test macro-F1, training time
and peak memory per run; fits error = a*n^b + c per approach with a bootstrap
interval on b; reports where the curves cross, the rows each approach would
need for `curve.target_macro_f1`, and checks the fit by predicting the largest
subset from the smaller ones. Writes metrics/curve.json, plots/curve.json (one
line per approach, log x) and reports/curve.md.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import f1_score

from schemas import load_params
from schemas.compare import TfidfBaseline
from schemas.curve import CurveParams
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths, CurvePaths, EvaluatePaths, TrainPaths
from schemas.train import TrainParams
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, write_json
from stages.lib.core.log import get_logger
from stages.lib.curve import powerlaw
from stages.lib.curve.subsets import nested_subsets
from stages.lib.model.approaches import KINDS
from stages.lib.model.baselines import majority_score
from stages.lib.model.data import prepare_data
from stages.lib.model.inference import predict_proba
from stages.lib.model.pretrain import build_scratch
from stages.lib.model.textclf import count_params, load_backbone, peak_memory_mb, read_split
from stages.lib.model.tfidf import baseline_pipeline
from stages.lib.model.training import TrainOptions, seed_everything

log = get_logger("curve")

TFIDF = "tfidf_logreg"
EXTRAPOLATION_LIMIT = 2.0  # beyond twice the largest train set seen, a fitted curve is a guess
# Beyond a hundred times the data seen, the rows a fit asks for are not a number to act on (a nearly flat fit
# once asked for 10^22): they are reported as "more than" this bound.
ESTIMATE_LIMIT = 100.0


def run(
    cfg: CurveParams,
    train: TrainParams,
    model_cfg: ModelParams,
    baseline: TfidfBaseline,
    paths: CurvePaths,
    train_paths: TrainPaths,
    eval_paths: EvaluatePaths,
    base_paths: BaseModelPaths,
) -> dict[str, Any]:
    """Train every (approach, fraction, seed), fit the curves, write the runs and the report; return the metrics.

    With `curve.enabled: false` it trains nothing and writes outputs that say so (deterministic, so a plain
    `dvc repro` stays cheap and leaves the committed outputs unchanged).
    """
    if not cfg.enabled:
        return _off(paths)
    import torch

    torch.set_num_threads(model_cfg.num_threads)
    data_dir = Path(train_paths.data_dir)
    table = pq.read_table(data_dir / "train.parquet")
    labels = table.column("label").to_pylist()
    if cfg.group_by is not None and cfg.group_by not in table.column_names:
        raise StageError(f"curve.group_by: {cfg.group_by} is not a column of {data_dir}/train.parquet")
    groups = table.column(cfg.group_by).to_pylist() if cfg.group_by else table.column("id").to_pylist()
    groups = [g if g is not None else f"row:{i}" for i, g in enumerate(groups)]
    _, test_texts, test_labels = read_split(eval_paths.test)
    scored = [i for i, y in enumerate(test_labels) if y is not None]
    base_dir = _base(cfg, model_cfg, paths, base_paths)
    work = Path(paths.work)
    runs: list[dict[str, Any]] = []
    for k in range(cfg.seeds):
        fractions = [f for f in cfg.fractions if k == 0 or f <= cfg.seeds_up_to]
        subsets = nested_subsets(labels, groups, fractions, seed=train.seed + k)
        for fraction in sorted(fractions):
            rows = subsets[fraction]
            folder = work / f"seed{k}" / f"{fraction:g}"
            _write_subset(table, rows, data_dir, folder)
            runs.append(_tfidf_run(baseline, table, rows, test_texts, test_labels, scored, fraction, k))
            for name, approach in cfg.approaches.items():
                runs.append(
                    _train_run(
                        name,
                        approach,
                        train,
                        model_cfg,
                        folder,
                        base_dir,
                        train_paths,
                        work,
                        test_texts,
                        test_labels,
                        scored,
                        fraction,
                        k,
                        len(rows),
                    )
                )
                log.info("%s on %d rows (seed %d): macro-F1 %.4f", name, len(rows), k, runs[-1]["macro_f1"])
    shutil.rmtree(work, ignore_errors=True)
    runs.sort(key=lambda r: (r["approach"], r["train_rows"], r["seed"]))
    actual = [test_labels[i] for i in scored]
    majority = majority_score(read_split(base_paths.train)[2], actual, "macro_f1")  # the split's train rows
    metrics = analyse(runs, cfg, majority)
    means = _means(runs)
    write_json(
        [{"approach": a, "train_rows": n, "macro_f1": round(f1, 6)} for (a, n), f1 in sorted(means.items())], paths.runs
    )
    with atomic_path(paths.report) as tmp:
        tmp.write_text(render(runs, metrics, cfg))
    metrics["runs"] = runs
    return metrics


def _off(paths: CurvePaths) -> dict[str, Any]:
    note = (
        "Learning curves are off (curve.enabled: false). Run them with `make curve`, that is\n"
        "`dvc exp run -S curve.enabled=true curve` (docs/curve.md).\n"
    )
    with atomic_path(paths.base) as tmp:
        tmp.mkdir(parents=True)
        (tmp / "README.md").write_text(note)
    with atomic_path(paths.report) as tmp:
        tmp.write_text("# Learning curves\n\n" + note)
    write_json([], paths.runs)
    log.info("curve.enabled is false: nothing trained")
    return {"enabled": False, "runs": []}


def _base(cfg: CurveParams, model_cfg: ModelParams, paths: CurvePaths, base_paths: BaseModelPaths) -> Path:
    if cfg.base == "base_model":
        if not Path(base_paths.out).is_dir():
            raise StageError(f"{base_paths.out} not found; run base_model first (or set curve.base: scratch)")
        return Path(base_paths.out)
    texts: list[str] = []
    for path in (base_paths.train, base_paths.unlabeled):
        if not Path(path).is_file():
            raise StageError(f"{path} not found: the curve's scratch model pre-trains on the split stage's outputs")
        texts += [t for t in pq.read_table(path, columns=["text"]).column("text").to_pylist() if t]
    with atomic_path(paths.base) as tmp:
        tmp.mkdir(parents=True)
        log.info("pre-training the curve's scratch model on %d texts", len(texts))
        build_scratch(texts, model_cfg.scratch, tmp)
    # Inside a stage the rename into paths.base waits until all the stage's outputs are written (one switch,
    # see stages/lib/core/io.py): until then the model is in the staged folder.
    return tmp if tmp.is_dir() else Path(paths.base)


def _write_subset(table, rows: list[int], data_dir: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.take(rows), folder / "train.parquet")
    shutil.copyfile(data_dir / "validation.parquet", folder / "validation.parquet")


def _tfidf_run(baseline, table, rows, test_texts, test_labels, scored, fraction, k) -> dict[str, Any]:
    texts, labels = table.column("text").to_pylist(), table.column("label").to_pylist()
    pairs = [(texts[i], labels[i]) for i in rows if labels[i] is not None]
    pipe = baseline_pipeline(baseline)
    start = time.perf_counter()
    pipe.fit([t for t, _ in pairs], [y for _, y in pairs])
    seconds = time.perf_counter() - start
    predicted = pipe.predict([test_texts[i] for i in scored])
    f1 = f1_score([test_labels[i] for i in scored], predicted, average="macro", zero_division=0)
    return _run_row(TFIDF, fraction, k, len(rows), f1, seconds, None, int(pipe[-1].coef_.size))


def _train_run(
    name,
    approach,
    train,
    model_cfg,
    folder,
    base_dir,
    train_paths,
    work,
    test_texts,
    test_labels,
    scored,
    fraction,
    k,
    n_rows,
) -> dict[str, Any]:
    seeded = train.model_copy(update={"seed": train.seed + k})
    module = KINDS[approach.kind]
    seed_everything(seeded.seed, model_cfg.num_threads)
    data = prepare_data(
        folder,
        base_dir,
        train_paths.class_weights,
        seeded,
        model_cfg.trust_remote_code,
        reserve=module.reserved_positions(approach),
    )
    model = module.build(approach, load_backbone(base_dir, model_cfg.trust_remote_code), len(data.labels))
    options = TrainOptions(
        train=seeded,
        learning_rate=approach.learning_rate,
        epochs=approach.epochs or seeded.epochs,
        num_threads=model_cfg.num_threads,
    )
    start = time.perf_counter()
    module.train(approach, model, data, options, work / "checkpoints", None, False, {})
    seconds = time.perf_counter() - start
    model.eval()
    probs = predict_proba(
        model, data.tokenizer, [test_texts[i] for i in scored], data.max_length, seeded.eval_batch_size
    )
    predicted = [data.labels[int(p.argmax())] for p in probs]
    f1 = f1_score([test_labels[i] for i in scored], predicted, average="macro", zero_division=0)
    return _run_row(name, fraction, k, n_rows, f1, seconds, peak_memory_mb(), count_params(model)[0])


def _run_row(approach, fraction, seed, rows, f1, seconds, memory, trainable) -> dict[str, Any]:
    return {
        "approach": approach,
        "fraction": fraction,
        "seed": seed,
        "train_rows": rows,
        "macro_f1": round(float(f1), 6),
        "train_seconds": round(seconds, 2),
        "peak_memory_mb": None if memory is None else round(memory, 1),
        "trainable_params": trainable,
    }


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


def analyse(runs: list[dict[str, Any]], cfg: CurveParams, majority_f1: float) -> dict[str, Any]:
    """Per approach: the fit, the interval of b, the rows needed for the target, the fit check; crossings.

    A run at or below the majority class's macro-F1 counts as failed (Mosbach et al. 2021): it is kept in the
    fit, since a failure rate is part of what an approach costs at that size, and counted.
    """
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by[r["approach"]].append(r)
    largest = max(r["train_rows"] for r in runs)
    fits: dict[str, powerlaw.Fit] = {}
    out: dict[str, Any] = {"approaches": {}, "target_macro_f1": cfg.target_macro_f1, "largest_train_rows": largest}
    for name, rs in sorted(by.items()):
        n = [r["train_rows"] for r in rs]
        err = [1 - r["macro_f1"] for r in rs]
        entry: dict[str, Any] = {
            "macro_f1_at_largest": round(float(np.mean([r["macro_f1"] for r in rs if r["train_rows"] == largest])), 6),
            "spread_at_smallest": _spread(rs),
            "failed_runs": sum(1 for r in rs if r["macro_f1"] <= majority_f1),
        }
        try:
            f = powerlaw.fit(n, err)
        except (RuntimeError, ValueError) as exc:
            entry["fit"] = None
            entry["fit_error"] = str(exc)
            out["approaches"][name] = entry
            continue
        fits[name] = f
        b = cfg.bootstrap
        low, high = powerlaw.exponent_interval(n, err, n_resamples=b.n_resamples, confidence=b.confidence, seed=b.seed)
        needed = f.rows_for(1 - cfg.target_macro_f1)
        beyond = needed is not None and needed > ESTIMATE_LIMIT * largest
        entry |= {
            "fit": {"a": round(f.a, 6), "b": round(f.b, 6), "c": round(f.c, 6)},
            "b_interval": [round(low, 4), round(high, 4)],
            "macro_f1_ceiling": round(1 - f.c, 6),
            "rows_for_target": None if needed is None or beyond else round(needed),
            "rows_for_target_extrapolated": needed is not None and needed > EXTRAPOLATION_LIMIT * largest,
            "rows_for_target_beyond": round(ESTIMATE_LIMIT * largest) if beyond else None,
            "check": _check(n, err, largest),
        }
        out["approaches"][name] = entry
    smallest = min(r["train_rows"] for r in runs)
    out["crossings"] = {
        f"{a} vs {b}": [round(x) for x in powerlaw.crossings(fits[a], fits[b], smallest, EXTRAPOLATION_LIMIT * largest)]
        for a, b in combinations(sorted(fits), 2)
    }
    return out


def _spread(rs: list[dict[str, Any]]) -> dict[str, float]:
    smallest = min(r["fraction"] for r in rs)
    values = [r["macro_f1"] for r in rs if r["fraction"] == smallest]
    return {
        "runs": len(values),
        "min": round(min(values), 6),
        "max": round(max(values), 6),
        "std": round(float(np.std(values)), 6),
    }


def _check(n: list[int], err: list[float], largest: int) -> dict[str, Any] | None:
    """Fit without the largest subset, predict it: how wrong the curve is one doubling ahead."""
    keep = [i for i, x in enumerate(n) if x < largest]
    if len({n[i] for i in keep}) < 3:
        return None
    try:
        f = powerlaw.fit([n[i] for i in keep], [err[i] for i in keep])
    except (RuntimeError, ValueError):
        return None
    actual = float(np.mean([1 - e for x, e in zip(n, err) if x == largest]))
    predicted = float(1 - f.error(largest))
    return {
        "predicted_macro_f1": round(predicted, 6),
        "actual_macro_f1": round(actual, 6),
        "abs_error": round(abs(predicted - actual), 6),
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


def main() -> None:
    params = load_params(check_peft=True)
    p = params.paths
    metrics = run(
        params.curve, params.train, params.model, params.compare.baseline, p.curve, p.train, p.evaluate, p.base_model
    )
    metrics.pop("runs")
    write_json(metrics, p.curve.metrics)


if __name__ == "__main__":
    cli(main)
