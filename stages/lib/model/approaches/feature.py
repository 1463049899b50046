"""feature: the backbone stays frozen (all of it, or all but its last N layers); a head is trained on top.

With the whole backbone frozen and `cache_embeddings`, the pooled features are
computed once and the head trains on them alone: each epoch then costs a few
matrix products instead of a pass through the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from schemas.approaches import FeatureApproach
from stages.lib.model import training
from stages.lib.model.approaches.common import Data, assemble, fit_tokens, make_head, save_head
from stages.lib.model.textclf import Classifier, HeadOnly, batched_forward, load_backbone, transformer_layers

BACKBONE_DIR = "backbone"


def build(cfg: FeatureApproach, backbone, num_labels: int) -> Classifier:
    for p in backbone.parameters():
        p.requires_grad_(False)
    if cfg.trainable_layers:
        layers = transformer_layers(backbone)
        for layer in list(layers)[-cfg.trainable_layers :]:
            for p in layer.parameters():
                p.requires_grad_(True)
    head = make_head(backbone, num_labels, cfg.head.hidden_sizes, cfg.head.dropout)
    return Classifier(backbone, head, cfg.pooling, cfg.layer)


def cached_features(model: Classifier, rows: list[dict[str, Any]], tokenizer, batch_size: int) -> torch.Tensor:
    """Pooled features of every row, computed once by the frozen backbone in eval mode."""
    model.eval()
    return batched_forward(model.features, rows, tokenizer, batch_size)


def train(
    cfg: FeatureApproach,
    model: Classifier,
    data: Data,
    options: training.TrainOptions,
    checkpoint_dir: Path,
    live_dir: Path | None,
    resume: bool,
    fingerprint: dict[str, Any],
    callbacks: Sequence[Any] = (),
):
    if not cfg.cache_embeddings:
        return fit_tokens(model, data, options, checkpoint_dir, live_dir, resume, fingerprint, callbacks)
    from transformers import default_data_collator

    train_x = cached_features(model, data.train_rows, data.tokenizer, options.train.eval_batch_size)
    val_x = cached_features(model, data.val_rows, data.tokenizer, options.train.eval_batch_size)
    train_rows = [{"features": x, "labels": r["labels"]} for x, r in zip(train_x, data.train_rows)]
    val_rows = [{"features": x, "labels": r["labels"]} for x, r in zip(val_x, data.val_rows)]
    # HeadOnly shares the head module: training it trains model.head.
    return training.fit(
        HeadOnly(model.head),
        train_rows,
        val_rows,
        default_data_collator,
        options,
        checkpoint_dir,
        live_dir,
        data.class_weights,
        resume,
        fingerprint,
        callbacks,
    )


def save(model: Classifier, cfg: FeatureApproach, out_dir: Path) -> None:
    if cfg.trainable_layers:  # the unfrozen layers changed: keep the backbone; otherwise models/base is it
        model.backbone.save_pretrained(str(out_dir / BACKBONE_DIR))
    save_head(model, out_dir)


def load(out_dir: Path, base_dir: Path, meta: dict[str, Any], trust_remote_code: bool = False) -> Classifier:
    own = out_dir / BACKBONE_DIR
    return assemble(load_backbone(own if own.is_dir() else base_dir, trust_remote_code), out_dir, meta)


def reserved_positions(cfg) -> int:
    return 0
