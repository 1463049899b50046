"""base_model: materialise the model every approach fine-tunes into models/base/.

`model.source: pretrained` copies a hub model at a pinned revision (or a local
folder), safetensors weights only. `model.source: scratch` trains a byte-level
BPE tokenizer and pre-trains a tiny BERT with masked-LM on the train split's
text plus unlabeled rows: never validation or test text, so no test input
leaks into the base model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from schemas import load_params
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.pretrain import copy_pretrained, pretrain_mlm, train_tokenizer
from stages.lib.model.textclf import count_params, load_backbone

log = get_logger("base_model")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("mlm_loss_last",)


def run(cfg: ModelParams, paths: BaseModelPaths) -> dict[str, Any]:
    """Write models/base/ atomically and return the metrics (source, size, pre-training loss)."""
    import torch

    torch.set_num_threads(cfg.num_threads)
    metrics: dict[str, Any] = {"source": cfg.source}
    with atomic_path(paths.out) as tmp:
        tmp.mkdir(parents=True)
        if cfg.source == "pretrained":
            try:
                copy_pretrained(cfg.name_or_path, cfg.revision, cfg.trust_remote_code, tmp)
            except (ValueError, FileNotFoundError) as exc:
                raise StageError(str(exc)) from None
        else:
            texts = corpus(paths)
            s = cfg.scratch
            log.info(
                "pre-training a %d-layer, %d-wide model on %d texts for %d steps",
                s.num_layers,
                s.hidden_size,
                len(texts),
                s.steps,
            )
            tokenizer = train_tokenizer(texts, s.vocab_size, s.min_frequency, s.lowercase, s.max_length)
            try:
                model, stats = pretrain_mlm(
                    texts,
                    tokenizer,
                    hidden_size=s.hidden_size,
                    num_layers=s.num_layers,
                    num_heads=s.num_heads,
                    intermediate_size=s.intermediate_size,
                    max_length=s.max_length,
                    steps=s.steps,
                    batch_size=s.batch_size,
                    learning_rate=s.learning_rate,
                    warmup_steps=s.warmup_steps,
                    weight_decay=s.weight_decay,
                    mlm_probability=s.mlm_probability,
                    seed=s.seed,
                )
            except ValueError as exc:
                raise StageError(f"{exc} ({paths.train}, {paths.unlabeled})") from None
            tokenizer.save_pretrained(str(tmp))
            model.save_pretrained(str(tmp))
            metrics |= {"corpus_texts": len(texts), **stats}
        backbone = load_backbone(tmp, cfg.trust_remote_code)
        metrics["total_params"] = count_params(backbone)[1]
        metrics["vocab_size"] = int(backbone.config.vocab_size)
    log.info("wrote %s (%d parameters)", paths.out, metrics["total_params"])
    return metrics


def corpus(paths: BaseModelPaths) -> list[str]:
    """Text of the train split and the unlabeled rows, in file order."""
    texts: list[str] = []
    for path in (paths.train, paths.unlabeled):
        if not Path(path).is_file():
            raise StageError(f"{path} not found: base_model pre-trains on the split stage's outputs")
        texts += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return [t for t in texts if t]


def main() -> None:
    params = load_params()
    metrics = run(params.model, params.paths.base_model)
    p = params.paths.base_model
    write_metrics(metrics, HEADLINE, p.metrics, p.details, params.paths.timings, "base_model")


if __name__ == "__main__":
    cli(main)
