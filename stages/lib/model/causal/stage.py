"""What the SFT pipeline's base_model, train@<approach> and evaluate@<approach> stages do (`task: sft`).

The stage files (stages/base_model.py, train.py, evaluate.py) dispatch here when params say `task: sft`; each
function takes the validated sections and paths and returns the metrics for `write_metrics`.

Every model folder under models/ carries `template.json`, render's record of the exact chat template the
training rows were rendered with, and a tokenizer whose `chat_template` is that text; predict renders new
prompts with it and refuses params whose template differs (stages/lib/model/causal/predict.py).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from stages.lib.core.errors import StageError
from stages.lib.core.io import atomic_path, write_parquet
from stages.lib.core.log import get_logger
from stages.lib.model.causal import KINDS
from stages.lib.model.causal.base import copy_local, load_causal_lm, load_tokenizer, pretrain_causal, save_model
from stages.lib.model.causal.data import read_rendered
from stages.lib.model.causal.evaluation import evaluate_rendered, token_loss
from stages.lib.model.causal.training import train_approach
from stages.lib.model.textclf import count_params, peak_memory_mb
from stages.lib.model.train_one import digest, is_main_process, seed_spread
from stages.lib.model.training import precision_flags

log = get_logger("sft")

TEMPLATE_FILE = "template.json"

# What `dvc metrics show` lists for each stage; everything else is in the details files.
BASE_HEADLINE = ("total_params",)
TRAIN_HEADLINE = ("best_validation.loss",)
EVAL_HEADLINE = ("loss", "token_f1", "stopped_share")


def train_texts(path: str | Path) -> list[str]:
    """The message contents of the train split, in row order: a scratch model's whole pre-training corpus."""
    messages = pq.read_table(path, columns=["messages"]).column("messages").to_pylist()
    return [m["content"] for conversation in messages for m in conversation if m["content"]]


def run_base_model(cfg: Any, paths: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write models/base/ atomically; (metrics, timings)."""
    import torch

    torch.set_num_threads(cfg.num_threads)
    metrics: dict[str, Any] = {"source": cfg.source}
    timings: dict[str, Any] = {}
    with atomic_path(paths.out) as tmp:
        if cfg.source == "scratch":
            tok = load_tokenizer(paths.tokenizer)
            texts = train_texts(paths.train)
            log.info("pre-training a %d-block causal LM on %d train texts", cfg.scratch.num_layers, len(texts))
            try:
                model, stats = pretrain_causal(
                    texts, tok, **cfg.scratch.model_dump(), attn_implementation=cfg.attn_implementation
                )
            except ValueError as exc:
                raise StageError(f"{exc} ({paths.train}: model.scratch)") from None
            timings["tokens_per_second"] = stats.pop("tokens_per_second")
            metrics |= {"corpus_texts": len(texts), **stats}
            save_model(model, tok, tmp)
        else:
            copy_local(cfg.path, cfg.sha256, cfg.trust_remote_code, tmp)
            model = load_causal_lm(tmp, cfg.trust_remote_code, cfg.attn_implementation)
        metrics["total_params"] = count_params(model)[1]
        metrics["vocab_size"] = int(model.config.vocab_size)
    return metrics, timings


def run_train(name: str, params: Any) -> dict[str, Any]:
    """Fine-tune models/base/ with approach `name` on render's rows; write models/<name>/ atomically.

    With `train.seeds` > 1 the approach trains again with seeds seed+1, ... (no model kept, no curves) and the
    spread of their best validation losses is reported under `seeds`. Under torchrun/accelerate every process
    trains and only the first writes the model; the others return {} (and write no metrics).
    """
    approach, train, cfg, p = params.approaches[name], params.train, params.model, params.paths
    try:
        precision_flags(train.mixed_precision)
    except ValueError as exc:
        raise StageError(str(exc)) from None
    base_dir, rendered = Path(p.base_model.out), Path(p.train.rendered)
    template = _template_record(rendered)
    tok = load_tokenizer(base_dir, cfg.trust_remote_code)
    tok.chat_template = template["source"]  # the folder's tokenizer renders exactly as render did
    packed = params.render.packing
    train_file = rendered / "packed" / "train.parquet" if packed else rendered / "train.parquet"
    try:
        train_rows = read_rendered(train_file, packed=packed)
        val_rows = read_rendered(rendered / "validation.parquet", packed=False)
    except (ValueError, FileNotFoundError) as exc:
        raise StageError(f"{exc} (paths.train.rendered; run render first)") from None
    fingerprint = {
        "approach": approach.model_dump(mode="json"),
        "train": train.model_dump(mode="json", exclude={"resume"}),
        "model": cfg.model_dump(mode="json"),
        "data": digest([train_file, rendered / "validation.parquet", base_dir / "model.safetensors"]),
    }
    checkpoints = Path(p.train.checkpoints_dir)
    options = {
        "base_dir": base_dir, "trust_remote_code": cfg.trust_remote_code,
        "attn_implementation": cfg.attn_implementation, "num_threads": cfg.num_threads,
        "pad_token_id": tok.pad_token_id, "train_rows": train_rows, "val_rows": val_rows, "resume": train.resume,
    }  # fmt: skip
    trained = train_approach(approach, train, checkpoint_dir=checkpoints / name, live_dir=Path(p.train.live_dir) / name,
                             fingerprint=fingerprint, **options)  # fmt: skip
    model, fit, seconds = trained.model, trained.fit, trained.seconds  # the training loop's time, as before
    spread = None
    if train.seeds > 1:
        start = time.perf_counter()

        def fit_seed(seed: int) -> Any:
            return train_approach(
                approach, train.model_copy(update={"seed": seed}), checkpoint_dir=checkpoints / f"{name}-seed{seed}",
                live_dir=None, fingerprint=fingerprint | {"seed": seed}, **options,
            ).fit  # fmt: skip

        spread = seed_spread(train, fit, fit_seed, None)  # no majority class for a language model
        seconds += time.perf_counter() - start
    if not is_main_process():
        return {}
    with atomic_path(Path(p.train.models_dir) / name) as tmp:
        KINDS[approach.kind].save(model, approach, tmp, tok)
        shutil.copyfile(rendered / TEMPLATE_FILE, tmp / TEMPLATE_FILE)
    trainable, total = count_params(model)
    return {
        "kind": approach.kind,
        "trainable_params": trainable,
        "total_params": total,
        "trainable_fraction": round(trainable / total, 6),
        "train_seconds": round(seconds, 2),
        "samples_per_second": round(fit.samples_per_second, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "num_threads": cfg.num_threads,
        "best_validation": {"loss": fit.best_metric, "step": fit.best_step},
        "steps": fit.global_step,
        "train_rows": len(train_rows),
        "packed": packed,
        "validation_rows": len(val_rows),
        "resumed_from_step": fit.resumed_from_step,
    } | ({"seeds": spread} if spread is not None else {})


def load_for_eval(name: str | None, params: Any) -> tuple[Any, Any]:
    """(model, tokenizer) of approach `name`, or of the untuned base model for None."""
    cfg, p = params.model, params.paths
    base_dir = Path(p.base_model.out)
    tok = load_tokenizer(base_dir, cfg.trust_remote_code)
    if name is None:
        return load_causal_lm(base_dir, cfg.trust_remote_code, cfg.attn_implementation).eval(), tok
    folder = Path(p.train.models_dir) / name
    if not folder.is_dir():
        raise StageError(f"{folder} not found; run train@{name} first")
    return KINDS[params.approaches[name].kind].load(folder, base_dir, cfg.trust_remote_code), tok


def evaluate_model(model: Any, tok: Any, params: Any, predictions: str | Path) -> tuple[dict[str, Any], Any]:
    """Test loss, perplexity and answer scores (and validation loss) of one model, and its predictions table
    (written to `predictions`; inside a stage the file appears when the stage ends)."""
    import torch

    torch.set_num_threads(params.model.num_threads)
    rendered, ev = Path(params.paths.train.rendered), params.eval
    with torch.no_grad():
        table, metrics, timings = evaluate_rendered(
            model, tok, rendered / "test.parquet", **ev.model_dump(exclude={"retrieval"})
        )
        val = token_loss(model, read_rendered(rendered / "validation.parquet", packed=False), tok.pad_token_id,
                         ev.batch_size)  # fmt: skip
    write_parquet(table, predictions)
    metrics = _rounded(metrics) | {"validation": _rounded(val)}
    # generation only (prompts tokenised in batches), in the contract's per-1,000 unit (compare shows per 100)
    metrics["predict_seconds_per_1000"] = round(10 * timings["generation_seconds_per_100"], 3)
    metrics["peak_memory_mb"] = round(peak_memory_mb(), 1)
    return metrics, table


def run_evaluate(name: str, params: Any) -> dict[str, Any]:
    model, tok = load_for_eval(name, params)
    out = Path(params.paths.evaluate.predictions_dir) / f"{name}.parquet"
    metrics, _ = evaluate_model(model, tok, params, out)
    log.info("%s: test loss %.3f, token F1 %.3f, stopped %.2f", name, metrics["loss"], metrics["token_f1"],
             metrics["stopped_share"])  # fmt: skip
    return metrics


def _template_record(rendered: Path) -> dict[str, Any]:
    path = rendered / TEMPLATE_FILE
    if not path.is_file():
        raise StageError(f"{path} not found; run render first (paths.train.rendered)")
    return json.loads(path.read_text())


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}
