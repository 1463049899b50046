"""curve for the SFT pipeline (`task: sft`): which causal-LM approach for how many train conversations.

Every approach of `curve.approaches` trains on nested subsets of render's train conversations (`curve.fractions`,
stratified by source, each conversation whole; `curve.seeds` seeds up to `curve.seeds_up_to`) exactly as
train@<approach> trains (stages.lib.model.causal.training.train_approach: the `train` section's budget, packed
with render.max_length when render.packing is on), with the validation and test splits unchanged. Each run is
scored by its best validation loss and by `compare.metric` on the test prompts (greedy answers, eval settings);
a run whose answers mostly never stop is failed, as in compare. The retrieval baseline answers from the same
subsets. The fits, the report and the plot rows are the classifiers' (stages/lib/curve/analysis.py, report.py).

Measured seconds stay out of the versioned outputs: the report's cost is the trainable parameters, the seconds
of each run go to the timings file (reports/timings/curve.json).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from stages.lib.core.errors import StageError
from stages.lib.core.io import atomic_path, write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_timings
from stages.lib.curve.analysis import analyse
from stages.lib.curve.report import SFT_OFF_NOTE, Measure, plot_rows, render, write_off
from stages.lib.curve.subsets import nested_subsets
from stages.lib.model.causal.base import load_tokenizer
from stages.lib.model.causal.compare import FAILED_BELOW, RETRIEVAL
from stages.lib.model.causal.data import PACKED_COLUMNS, PADDED_COLUMNS, read_prompts, read_rendered
from stages.lib.model.causal.evaluation import evaluate_rendered, score_answers
from stages.lib.model.causal.retrieval import retrieval_answers
from stages.lib.model.causal.training import train_approach
from stages.lib.model.textclf import count_params
from stages.lib.render.packing import pack

log = get_logger("curve")

LABELS = {"token_f1": "token-F1", "rouge_l": "ROUGE-L", "exact_match": "exact match"}
COLUMNS = ["id", "source", "input_ids", "labels", "length", "prompt", "answer"]


def run_sft_curve(params: Any) -> dict[str, Any]:
    """Train every (approach, fraction, seed), fit the curves, write the plot rows and the report; return the
    metrics (the analysis). With `curve.enabled: false` nothing trains and the outputs say so."""
    cfg, p, metric = params.curve, params.paths, params.compare.metric
    if not cfg.enabled:
        log.info("curve.enabled is false: nothing trained")
        write_off(p.curve.report, p.curve.runs, SFT_OFF_NOTE)
        return {"enabled": False}
    import torch

    torch.set_num_threads(params.model.num_threads)
    rendered, base_dir = Path(p.train.rendered), Path(p.base_model.out)
    try:
        rows = pq.read_table(rendered / "train.parquet", columns=COLUMNS).to_pylist()
        val_rows = read_rendered(rendered / "validation.parquet", packed=False)
    except (ValueError, FileNotFoundError) as exc:
        raise StageError(f"{exc} (paths.train.rendered; run render first)") from None
    if not base_dir.is_dir():
        raise StageError(f"{base_dir} not found; run base_model first (paths.base_model.out)")
    tok = load_tokenizer(base_dir, params.model.trust_remote_code)
    test = read_prompts(rendered / "test.parquet", params.eval.limit)
    work = Path(p.curve.work)
    runs, seconds = [], []
    for k in range(cfg.seeds):
        fractions = [f for f in cfg.fractions if k == 0 or f <= cfg.seeds_up_to]
        subsets = nested_subsets([r["source"] for r in rows], [r["id"] for r in rows], fractions, params.train.seed + k)
        for fraction in sorted(fractions):
            subset = [rows[i] for i in subsets[fraction]]
            runs.append(retrieval_run(subset, test, params, tok) | {"fraction": fraction, "seed": k})
            for name, approach in cfg.approaches.items():
                row, took = approach_run(name, approach, subset, val_rows, params, tok, k, work / "checkpoints")
                runs.append(row | {"fraction": fraction, "seed": k})
                seconds.append({"approach": name, "fraction": fraction, "seed": k, "train_seconds": round(took, 2)})
                log.info("%s on %d conversations (seed %d): %s %.4f", name, len(subset), k, metric, row[metric])
    shutil.rmtree(work, ignore_errors=True)
    runs.sort(key=lambda r: (r["approach"], r["train_rows"], r["seed"]))
    metrics = analyse(runs, cfg, None, metric=metric, target=cfg.target_score)
    measure = Measure(metric, LABELS[metric], "train conversations", "stratified by source, conversations whole")
    write_json(plot_rows(runs, metric), p.curve.runs)
    with atomic_path(p.curve.report) as tmp:
        tmp.write_text(render(runs, metrics, cfg, measure))
    write_timings({"train_seconds": round(sum(s["train_seconds"] for s in seconds), 2), "runs": seconds},
                  p.timings, "curve")  # fmt: skip
    return metrics


def approach_run(
    name: str,
    approach: Any,
    subset: list[dict[str, Any]],
    val_rows: list[dict[str, Any]],
    params: Any,
    tok: Any,
    k: int,
    checkpoints: Path,
) -> tuple[dict[str, Any], float]:
    """Approach `name` trained on the subset's conversations with seed `train.seed + k`: (run row, seconds)."""
    cfg, ev = params.model, params.eval
    if params.render.packing:
        packed, _ = pack(subset, params.render.max_length)
        train_rows = [{c: r[c] for c in PACKED_COLUMNS} for r in packed]
    else:
        train_rows = [{c: r[c] for c in PADDED_COLUMNS} for r in subset]
    trained = train_approach(
        approach, params.train.model_copy(update={"seed": params.train.seed + k}),
        base_dir=Path(params.paths.base_model.out), trust_remote_code=cfg.trust_remote_code,
        attn_implementation=cfg.attn_implementation, num_threads=cfg.num_threads, pad_token_id=tok.pad_token_id,
        train_rows=train_rows, val_rows=val_rows, checkpoint_dir=checkpoints, live_dir=None, resume=False,
        fingerprint={},
    )  # fmt: skip
    model = trained.model.eval()
    import torch

    with torch.no_grad():
        _, scores, _ = evaluate_rendered(
            model, tok, Path(params.paths.train.rendered) / "test.parquet", **ev.model_dump(exclude={"retrieval"})
        )
    row = {
        "approach": name,
        "train_rows": len(subset),
        params.compare.metric: round(float(scores[params.compare.metric]), 6),
        "validation_loss": None if trained.fit.best_metric is None else round(trained.fit.best_metric, 6),
        "stopped_share": round(float(scores["stopped_share"]), 6),
        "failed": bool(scores["stopped_share"] < FAILED_BELOW),
        "trainable_params": count_params(model)[0],
    }
    return row, trained.seconds


def retrieval_run(subset: list[dict[str, Any]], test: tuple[list, list, list], params: Any, tok: Any) -> dict:
    """The retrieval baseline answering from the subset's conversations (nothing trained)."""
    ids, prompts, answers = test
    gens = retrieval_answers([r["prompt"] for r in subset], [r["answer"] for r in subset], prompts,
                             **params.eval.retrieval.model_dump(), tokenizer=tok)  # fmt: skip
    _, summary = score_answers(ids, prompts, answers, gens)
    metric = params.compare.metric
    return {
        "approach": RETRIEVAL,
        "train_rows": len(subset),
        metric: round(float(summary[metric]), 6),
        "validation_loss": None,
        "stopped_share": 1.0,
        "failed": False,
        "trainable_params": 0,
    }
