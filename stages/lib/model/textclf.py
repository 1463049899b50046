"""The classifier every approach trains: a backbone, a pooling of its token vectors, and a head.

No pooler: a masked-LM checkpoint has none, and transformers would create a random
one that PEFT neither trains nor saves, so a reloaded adapter would give other logits. The head reads the mean
(or first-token) vector of a chosen hidden layer instead.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import nn

from stages.lib.core.safety import from_pretrained

META_FILE = "refinery.json"
HEAD_FILE = "head.safetensors"


class Head(nn.Module):
    """Linear, or an MLP with ReLU between the given hidden sizes; dropout before each layer."""

    def __init__(self, in_features: int, num_labels: int, hidden_sizes: Sequence[int] = (), dropout: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Dropout(dropout), nn.Linear(width, size), nn.ReLU()]
            width = size
        layers += [nn.Dropout(dropout), nn.Linear(width, num_labels)]
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per text from token vectors (batch, tokens, width).

    Prompt-learning adapters prepend virtual tokens to the hidden states: they
    are counted as attended positions, and the first real token is the CLS one.
    """
    extra = hidden.shape[1] - attention_mask.shape[1]
    if pooling == "cls":
        return hidden[:, extra]
    mask = attention_mask.to(hidden.dtype)
    if extra > 0:
        mask = torch.cat([mask.new_ones(mask.shape[0], extra), mask], dim=1)
    mask = mask.unsqueeze(-1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class Classifier(nn.Module):
    """backbone -> hidden states of `layer` -> pooling -> head. Returns {"logits": ...} for the Trainer."""

    _keys_to_ignore_on_save = None  # read by the Trainer when it reloads the best checkpoint

    def __init__(self, backbone: nn.Module, head: Head, pooling: str = "mean", layer: int = -1):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.pooling = pooling
        self.layer = layer

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        want_all = self.layer != -1
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=want_all)
        hidden = out.hidden_states[self.layer] if want_all else out.last_hidden_state
        return pool(hidden, attention_mask, self.pooling)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None):
        return {"logits": self.head(self.features(input_ids, attention_mask))}

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Each tensor once. Prompt-learning PEFT models hold a second reference to the word embeddings, and the
        Trainer's safetensors checkpoints refuse shared tensors; the Trainer reloads non-strictly, so the alias
        is restored through the key that is kept."""
        state = super().state_dict(*args, **kwargs)
        if kwargs.get("prefix", args[1] if len(args) > 1 else ""):
            return state  # called on a parent's behalf: leave its bookkeeping alone
        seen: set[tuple[int, tuple[int, ...]]] = set()
        for key in list(state):
            tensor = state[key]
            ident = (tensor.data_ptr(), tuple(tensor.shape))
            if tensor.data_ptr() and ident in seen:
                del state[key]
            seen.add(ident)
        return state


class HeadOnly(nn.Module):
    """The head alone, trained on cached features (feature approach with cache_embeddings)."""

    def __init__(self, head: Head):
        super().__init__()
        self.head = head

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None):
        return {"logits": self.head(features)}


# -- base model ---------------------------------------------------------------------------------------


def load_backbone(base_dir: str | Path, trust_remote_code: bool = False) -> nn.Module:
    """The base model's encoder without its pooler (and without any masked-LM head)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "pooler weights newly initialised" is expected: the pooler is dropped
    try:
        backbone = from_pretrained(AutoModel, base_dir, trust_remote_code=trust_remote_code)
    finally:
        hf_logging.set_verbosity(verbosity)
    if getattr(backbone, "pooler", None) is not None:
        backbone.pooler = None
    return backbone


def load_tokenizer(base_dir: str | Path, trust_remote_code: bool = False):
    """The base model's tokenizer; decoder tokenizers without a pad token pad with their end token."""
    from transformers import AutoTokenizer

    from stages.lib.model.manifest import require_vocabulary

    require_vocabulary(base_dir, "run dvc repro base_model (or put the model's tokenizer files back)")
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def hidden_size(backbone: nn.Module) -> int:
    config = backbone.config
    for name in ("hidden_size", "dim", "d_model", "n_embd"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    raise ValueError(f"cannot tell the hidden size of {type(backbone).__name__}")


def transformer_layers(backbone: nn.Module) -> nn.ModuleList:
    """The stack of transformer layers (encoder.layer for BERT, transformer.layer for DistilBERT...)."""
    count = getattr(backbone.config, "num_hidden_layers", None) or getattr(backbone.config, "n_layers", None)
    candidates = [m for m in backbone.modules() if isinstance(m, nn.ModuleList) and len(m) == count]
    if not candidates:
        raise ValueError(f"cannot find the {count} transformer layers of {type(backbone).__name__}")
    return candidates[0]


def count_params(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


# -- data ---------------------------------------------------------------------------------------------


def read_split(path: str | Path) -> tuple[list[str], list[str], list[str | None]]:
    """(ids, texts, labels) of a split file."""
    table = pq.read_table(path, columns=["id", "text", "label"])
    return table.column("id").to_pylist(), table.column("text").to_pylist(), table.column("label").to_pylist()


def label_set(labels: Sequence[str | None]) -> list[str]:
    """The training label set: sorted unique non-null labels of the train split."""
    return sorted({label for label in labels if label is not None})


def encode(tokenizer, texts: Sequence[str], labels: Sequence[int] | None, max_length: int) -> list[dict[str, Any]]:
    """Tokenised examples (unpadded: the collator pads each batch to its longest text)."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    rows = [{"input_ids": ids, "attention_mask": mask} for ids, mask in zip(enc["input_ids"], enc["attention_mask"])]
    if labels is not None:
        for row, label in zip(rows, labels):
            row["labels"] = int(label)
    return rows


@torch.no_grad()
def batched_forward(fn, rows: list[dict[str, Any]], tokenizer, batch_size: int) -> torch.Tensor:
    """Apply fn(input_ids, attention_mask) to padded batches in order; concatenate the outputs."""
    from transformers import DataCollatorWithPadding

    collate = DataCollatorWithPadding(tokenizer)
    outs = []
    for start in range(0, len(rows), batch_size):
        batch = collate([{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows[start : start + batch_size]])
        outs.append(fn(batch["input_ids"], batch["attention_mask"]).float())
    return torch.cat(outs) if outs else torch.zeros(0)


def class_weight_tensor(path: str | Path, labels: Sequence[str]) -> torch.Tensor | None:
    """Loss weights in label order from the balance stage's file; None when it holds none."""
    path = Path(path)
    if not path.is_file():
        return None
    weights = json.loads(path.read_text()).get("class_weights")
    if not weights:
        return None
    missing = [label for label in labels if label not in weights]
    if missing:
        raise ValueError(f"{path} has no weight for labels {missing}; it has {sorted(weights)}")
    return torch.tensor([float(weights[label]) for label in labels])


def peak_memory_mb() -> float:
    """Peak accelerator memory allocated by torch on GPU; else peak resident memory of this process.

    VmHWM rather than ru_maxrss: Linux carries ru_maxrss over exec, so a stage started by a big parent
    (pytest, a notebook) would report the parent's peak.
    """
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def softmax_np(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.float(), dim=-1).numpy()
