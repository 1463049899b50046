"""Params of the base_model stage: which pre-trained model every approach fine-tunes."""

from __future__ import annotations

import logging
import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import Seed, StrictModel


class ScratchModel(StrictModel):
    """A tiny BERT-style encoder pre-trained with masked-LM on the project's own text (offline default)."""

    vocab_size: int = Field(
        8000,
        ge=300,
        le=1_000_000,
        description="At most 1 million. Byte-level BPE vocabulary size, special tokens included.",
    )
    min_frequency: int = Field(
        2,
        ge=1,
        le=1_000_000,
        description="A merge must occur this often in the corpus to be learnt (at most 1 million).",
    )
    lowercase: bool = Field(False, description="Lower-case text before tokenizing (loses CAPS, a spam signal).")
    hidden_size: int = Field(
        128, ge=8, le=8192, description="Width of every layer (at most 8192: a scratch model on CPU)."
    )
    num_layers: int = Field(2, ge=1, le=128, description="Number of transformer layers (at most 128).")
    num_heads: int = Field(4, ge=1, le=256, description="Attention heads per layer; must divide hidden_size.")
    intermediate_size: int = Field(
        512, ge=8, le=65_536, description="Width of the feed-forward block of each layer (at most 65536)."
    )
    max_length: int = Field(
        128, ge=8, le=32_768, description="Longest input in tokens (position embeddings; at most 32768)."
    )
    steps: int = Field(400, ge=1, le=10_000_000, description="Masked-LM optimisation steps (at most 10 million).")
    batch_size: int = Field(32, ge=1, le=65_536, description="Sequences per masked-LM step (at most 65536).")
    learning_rate: float = Field(
        1e-3, gt=0, le=10, description="Peak AdamW learning rate (linear warm-up then decay; at most 10)."
    )
    warmup_steps: int = Field(40, ge=0, le=10_000_000, description="Linear warm-up steps (at most 10 million).")
    weight_decay: float = Field(0.01, ge=0, le=10, description="AdamW weight decay (at most 10).")
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens masked per sequence.")
    seed: Seed = Field(42, description="Seed of initialisation, masking and batch order.")

    @model_validator(mode="after")
    def _heads_divide(self) -> ScratchModel:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"model.scratch.num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size}); "
                "pick e.g. num_heads: 4 with hidden_size: 128"
            )
        return self


def free_cores() -> int:
    """The cores this process may use (os.sched_getaffinity) minus the 1-minute load average, at least 1; logged.

    On two cores with the other one busy this is 1: two threads there ran full fine-tuning at 4.3 s/step, one
    thread at 1.2-1.4 s/step.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    chosen = max(1, min(cores, int(cores - load + 0.5)))
    logging.getLogger("refinery.threads").info(
        "model.num_threads: auto -> %d (%d cores for this process, 1-minute load average %.2f)", chosen, cores, load
    )
    return chosen


class ModelParams(StrictModel):
    """Where the base model comes from; written to models/base/ so it is versioned like the data."""

    source: Literal["scratch", "pretrained"] = Field(
        "scratch",
        description="scratch: train a tokenizer and a tiny masked-LM on the train split and unlabeled text "
        "(offline); pretrained: copy `name_or_path` (hub id or local folder) at `revision`.",
    )
    name_or_path: str | None = Field(
        None, description="pretrained: hub model id (bert-base-uncased) or a local folder with safetensors weights."
    )
    revision: str | None = Field(
        None, description="pretrained from the hub: commit hash (or tag) to pin; required for hub ids."
    )
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="pretrained: sha256 of model.safetensors; base_model refuses weights that differ (the offline "
        "analogue of a pinned hub revision). null checks nothing.",
    )
    trust_remote_code: bool = Field(
        False, description="Allow model code shipped with the checkpoint (runs that code on your machine)."
    )
    num_threads: int | Literal["auto"] = Field(
        "auto",
        validate_default=True,
        description="torch CPU threads in every model stage (1 to 1024), or auto: the cores free when the stage "
        "starts (this process's cores minus the 1-minute load average, at least 1), logged and recorded in train's "
        "details. Seeded runs are bit-identical only with the same count: pin a number for byte-identical weights.",
    )
    scratch: ScratchModel = Field(default_factory=ScratchModel, description="source: scratch settings.")

    @field_validator("num_threads")
    @classmethod
    def _threads(cls, value: int | str) -> int:
        if value == "auto":
            return free_cores()
        if not 1 <= int(value) <= 1024:
            raise ValueError("set a number of threads from 1 to 1024, or auto")
        return int(value)

    @model_validator(mode="after")
    def _pretrained_needs_name(self) -> ModelParams:
        if self.source == "pretrained" and not self.name_or_path:
            raise ValueError("model.source is 'pretrained': set model.name_or_path (a hub id or a local folder)")
        return self
