"""What the approach modules share: the data they train on, the head, saving and loading the head."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from stages.lib.model.textclf import HEAD_FILE, META_FILE, Classifier, Head, hidden_size


@dataclass
class Data:
    """Tokenised train and validation examples plus what the loss needs."""

    tokenizer: Any
    train_rows: list[dict[str, Any]]
    val_rows: list[dict[str, Any]]
    labels: list[str]
    class_weights: torch.Tensor | None
    max_length: int
    dropped: dict[str, int] = field(default_factory=dict)  # rows not trained or validated on, by reason


def make_head(backbone: torch.nn.Module, num_labels: int, hidden_sizes: list[int], dropout: float) -> Head:
    return Head(hidden_size(backbone), num_labels, hidden_sizes, dropout)


def collator(tokenizer):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)


def fit_tokens(
    model: torch.nn.Module,
    data: Data,
    options: Any,
    checkpoint_dir: Path,
    live_dir: Path | None,
    resume: bool,
    fingerprint: dict[str, Any],
    callbacks: Any = (),
) -> Any:
    """Train on the tokenised rows with dynamic padding: every approach's path but cached features."""
    from stages.lib.model import training

    return training.fit(
        model,
        data.train_rows,
        data.val_rows,
        collator(data.tokenizer),
        options,
        checkpoint_dir,
        live_dir,
        data.class_weights,
        resume,
        fingerprint,
        callbacks,
    )


def save_head(model: Classifier, out_dir: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}
    save_file(state, str(out_dir / HEAD_FILE))


def read_meta(out_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / META_FILE).read_text())


def load_head(out_dir: Path, meta: dict[str, Any]) -> Head:
    spec = meta["head"]
    head = Head(spec["in_features"], len(meta["labels"]), spec["hidden_sizes"], spec["dropout"])
    head.load_state_dict(load_file(str(out_dir / HEAD_FILE)))
    return head


def assemble(backbone: torch.nn.Module, out_dir: Path, meta: dict[str, Any]) -> Classifier:
    model = Classifier(backbone, load_head(out_dir, meta), meta["pooling"], meta.get("layer", -1))
    return model.eval()
