"""full: every parameter of the backbone and the head is trained."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.approaches import FullApproach
from stages.lib.model import training
from stages.lib.model.approaches.common import Data, assemble, fit_tokens, make_head, save_head
from stages.lib.model.textclf import Classifier, load_backbone

BACKBONE_DIR = "backbone"


def build(cfg: FullApproach, backbone, num_labels: int) -> Classifier:
    head = make_head(backbone, num_labels, cfg.head.hidden_sizes, cfg.head.dropout)
    model = Classifier(backbone, head, cfg.pooling)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def train(
    cfg: FullApproach,
    model: Classifier,
    data: Data,
    options: training.TrainOptions,
    checkpoint_dir: Path,
    live_dir: Path | None,
    resume: bool,
    fingerprint: dict[str, Any],
    callbacks: Sequence[Any] = (),
):
    return fit_tokens(model, data, options, checkpoint_dir, live_dir, resume, fingerprint, callbacks)


def save(model: Classifier, cfg: FullApproach, out_dir: Path) -> None:
    model.backbone.save_pretrained(str(out_dir / BACKBONE_DIR))
    save_head(model, out_dir)


def load(out_dir: Path, base_dir: Path, meta: dict[str, Any], trust_remote_code: bool = False) -> Classifier:
    return assemble(load_backbone(out_dir / BACKBONE_DIR, trust_remote_code), out_dir, meta)


def reserved_positions(cfg) -> int:
    return 0
