"""Params shared by every train@<approach> and evaluate@<approach> stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.base import Seed, StrictModel


class EarlyStopping(StrictModel):
    """Keep the best validation checkpoint; stop when it is `patience` old. Counted in optimiser steps or epochs
    (`unit`), not in evaluations, and nothing before `minimum` counts: on a small validation split an early lucky
    evaluation would otherwise be kept and stop the run."""

    metric: Literal["macro_f1", "accuracy", "loss"] = Field(
        "macro_f1", description="Validation metric that picks the best checkpoint (loss: lower is better)."
    )
    unit: Literal["steps", "epochs"] = Field(
        "steps", description="Unit of patience and minimum: optimiser steps or epochs (passes over the train rows)."
    )
    patience: float | None = Field(
        150,
        gt=0,
        le=100_000_000,
        description="Stop when the best evaluation is this many units old (in steps: at least train.eval_steps); "
        "null trains to the end.",
    )
    minimum: float = Field(
        0,
        ge=0,
        le=100_000_000,
        description="Units trained before an evaluation may be kept as the best and before stopping; the last "
        "evaluation always counts. 0: from the first evaluation.",
    )


class TrainParams(StrictModel):
    """Training options every approach shares; an approach sets its own learning rate (and may set epochs)."""

    epochs: float = Field(
        3, gt=0, le=10_000, description="At most 10000. Passes over the train split (an approach may override it)."
    )
    max_steps: int | None = Field(
        None,
        ge=1,
        le=100_000_000,
        description="At most 100 million. Stop after this many optimiser steps; overrides epochs.",
    )
    lr_scheduler: Literal[
        "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"
    ] = Field("linear", description="Learning-rate schedule after warm-up (transformers' lr_scheduler_type).")
    warmup_ratio: float = Field(0.06, ge=0, lt=1, description="Share of the steps spent warming up linearly.")
    weight_decay: float = Field(0.01, ge=0, le=10, description="AdamW weight decay (at most 10).")
    batch_size: int = Field(
        32,
        ge=1,
        le=65_536,
        description="Train examples per process per step (at most 65536); the global batch is this x num_processes.",
    )
    eval_batch_size: int = Field(
        128, ge=1, le=65_536, description="At most 65536. Examples per forward pass when evaluating or caching."
    )
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=4096, description="At most 4096. Steps whose gradients add up before an update."
    )
    max_length: int = Field(
        64, ge=4, le=32_768, description="At most 32768. Tokens per text (truncated); batches are padded dynamically."
    )
    group_by_length: bool = Field(
        True,
        description="Draw train batches of similar length (transformers' group_by_length sampling) so that less "
        "compute goes to padding; false draws them uniformly at random.",
    )
    eval_steps: int = Field(
        50, ge=1, le=100_000_000, description="Evaluate on the validation split every N optimiser steps."
    )
    save_steps: int = Field(
        50,
        ge=1,
        le=100_000_000,
        description="Checkpoint every N steps (a multiple of eval_steps, so the best model is kept).",
    )
    save_total_limit: int = Field(
        2, ge=1, le=1000, description="Checkpoints kept on disk (the best is always kept; at most 1000)."
    )
    logging_steps: int = Field(
        10, ge=1, le=100_000_000, description="Log training loss every N steps (dvclive curves)."
    )
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping, description="Best-model selection.")
    class_weights: bool = Field(
        True, description="Weight the loss with the balance stage's class_weights.json (when it holds weights)."
    )
    seed: Seed = Field(42, description="Seed of head initialisation, dropout and batch order.")
    seeds: int = Field(
        1,
        ge=1,
        le=20,
        description="Trainings per approach, with seeds seed, seed+1, ... (at most 20). The first seed's model is "
        "the one saved and evaluated; the others give the spread of the best validation metric and count failed "
        "runs (at or below the majority class on validation; Mosbach et al. 2021). Each seed costs one training.",
    )
    resume: bool = Field(
        True, description="Continue an interrupted run from its last checkpoint (same params and data only)."
    )
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on GPUs that support it, else fp16 on GPU, none on CPU."
    )
    launcher: Literal["none", "torchrun", "accelerate"] = Field(
        "none",
        description="How train@<approach> starts: none (one process), torchrun or accelerate launch (DDP; "
        "FSDP or DeepSpeed through accelerate_config).",
    )
    num_processes: int = Field(
        1, ge=1, le=1024, description="Training processes on this machine (one per GPU; CPU processes use gloo)."
    )
    accelerate_config: str | None = Field(
        None,
        description="accelerate config file (FSDP, DeepSpeed, mixed precision) for launcher: accelerate; "
        "null: accelerate's plain multi-process defaults.",
    )

    @model_validator(mode="after")
    def _launcher_fits(self) -> TrainParams:
        if self.launcher == "none" and self.num_processes > 1:
            raise ValueError(
                f"train.num_processes is {self.num_processes} but train.launcher is none (one process); "
                "set train.launcher: torchrun or accelerate, or num_processes: 1"
            )
        if self.accelerate_config is not None and self.launcher != "accelerate":
            raise ValueError(
                f"train.accelerate_config is set but train.launcher is {self.launcher}; set launcher: accelerate "
                "or accelerate_config: null"
            )
        return self

    @model_validator(mode="after")
    def _patience_spans_an_evaluation(self) -> TrainParams:
        stop = self.early_stopping
        if stop.unit == "steps" and stop.patience is not None and stop.patience < self.eval_steps:
            raise ValueError(
                f"train.early_stopping.patience is {stop.patience:g} optimiser steps (unit: steps), less than "
                f"train.eval_steps ({self.eval_steps}): it would stop at the first evaluation without improvement. "
                f"Patience counts steps, not evaluations: e.g. set it to {3 * self.eval_steps} (three evaluations)"
            )
        return self

    @model_validator(mode="after")
    def _save_on_eval(self) -> TrainParams:
        if self.save_steps % self.eval_steps:
            raise ValueError(
                f"train.save_steps ({self.save_steps}) must be a multiple of train.eval_steps ({self.eval_steps}) "
                "so that the best evaluated model has a checkpoint; e.g. set save_steps equal to eval_steps"
            )
        return self
