"""One training loop for every approach: the Hugging Face Trainer with early stopping, class weights,
checkpoints that survive a crash, and dvclive curves that never touch dvc.yaml."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn

from schemas.train import TrainParams
from stages.lib.core.log import get_logger

log = get_logger("train")

FINGERPRINT_FILE = "refinery-fingerprint.json"


@dataclass(frozen=True)
class TrainOptions:
    """One run's options: the validated `train` section as it is, plus what the approach sets itself."""

    train: TrainParams
    learning_rate: float
    epochs: float
    num_threads: int = 1


@dataclass
class FitResult:
    best_metric: float | None
    best_step: int | None
    global_step: int
    samples_per_second: float
    resumed_from_step: int | None


def options_for(approach: Any, train: TrainParams, num_threads: int) -> TrainOptions:
    """The shared `train` section with the approach's learning rate and epochs."""
    return TrainOptions(
        train=train,
        learning_rate=approach.learning_rate,
        epochs=approach.epochs or train.epochs,
        num_threads=num_threads,
    )


def seed_everything(seed: int, num_threads: int) -> None:
    """Seed python, numpy and torch, and pin the thread count (CPU results depend on it)."""
    from transformers import set_seed

    torch.set_num_threads(num_threads)
    set_seed(seed)


def steps_per_epoch(rows: int, batch_size: int, accumulation: int, processes: int = 1) -> int:
    """Optimiser steps in one pass over `rows` (the Trainer's count: batches per process, then accumulation)."""
    return max(1, math.ceil(math.ceil(rows / (batch_size * processes)) / accumulation))


def in_steps(value: float, unit: str, per_epoch: int) -> int:
    """An early-stopping length (train.early_stopping.unit) in optimiser steps."""
    return math.ceil(value * per_epoch) if unit == "epochs" else math.ceil(value)


def counts_as_best(step: int, min_steps: int, max_steps: int) -> bool:
    """Whether an evaluation at `step` may be kept as the best: from `min_steps` on, and the last one always."""
    return step >= min_steps or step >= max_steps


class StepPatience:
    """Early stopping by optimiser steps: stop once the best evaluation (from `min_steps` on) is `patience` steps
    old. Patience counted in evaluations stops a run early on a small, noisy validation split.

    A TrainerCallback (made one in `fit`); it keeps its own best, since the Trainer updates its own after the
    `on_evaluate` callbacks.
    """

    def __init__(self, metric: str, greater_is_better: bool, patience: int | None, min_steps: int) -> None:
        self.key, self.greater = f"eval_{metric}", greater_is_better
        self.patience, self.min_steps = patience, min_steps
        self.best: float | None = None
        self.best_step: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.best, self.best_step = state.best_metric, getattr(state, "best_global_step", None)  # a resumed run's
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **_: Any):
        value = (metrics or {}).get(self.key)
        step = state.global_step
        if value is None or not counts_as_best(step, self.min_steps, state.max_steps):
            return control
        if self.best is None or (value > self.best if self.greater else value < self.best):
            self.best, self.best_step = float(value), step
        elif self.patience is not None and step - (self.best_step or step) >= self.patience:
            log.info(
                "early stopping at step %d: the best %s (%.4f, step %d) is %d steps old (patience %d)",
                step, self.key, self.best, self.best_step, step - self.best_step, self.patience,
            )  # fmt: skip
            control.should_training_stop = True
        return control


def precision_flags(mode: str) -> dict[str, bool]:
    """bf16/fp16 Trainer flags: auto picks bf16 on GPUs that support it, fp16 on other GPUs, none on CPU."""
    if mode == "auto":
        gpu = torch.cuda.is_available()
        mode = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if gpu else "no"
    if mode != "no" and not torch.cuda.is_available():
        raise ValueError(f"train.mixed_precision: {mode} needs a GPU; use auto or no on CPU")
    return {"bf16": mode == "bf16", "fp16": mode == "fp16"}


def weighted_loss(class_weights: torch.Tensor | None) -> Callable[..., torch.Tensor]:
    """Cross-entropy with optional class weights, normalised by the examples in the (accumulated) batch."""

    def loss(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        weight = class_weights.to(logits.device, torch.float32) if class_weights is not None else None
        total = nn.functional.cross_entropy(logits.float(), labels, weight=weight, reduction="sum")
        count = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        return total / count

    return loss


def classification_metrics(eval_pred: Any) -> dict[str, float]:
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    predicted = np.asarray(logits).argmax(-1)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
    }


def fingerprint_matches(checkpoint_dir: Path, fingerprint: dict[str, Any]) -> bool:
    path = checkpoint_dir / FINGERPRINT_FILE
    return path.is_file() and json.loads(path.read_text()) == json.loads(json.dumps(fingerprint, sort_keys=True))


def fit(
    model: nn.Module,
    train_rows: Sequence[dict[str, Any]],
    val_rows: Sequence[dict[str, Any]],
    collator: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]],
    options: TrainOptions,
    checkpoint_dir: str | Path,
    live_dir: str | Path | None,
    class_weights: torch.Tensor | None = None,
    resume: bool = True,
    fingerprint: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
    causal_lm: bool = False,
) -> FitResult:
    """Train `model` (which returns {"logits"}) and leave the best validation checkpoint loaded in it.

    With `causal_lm` the model computes its own loss from the batch's `labels` (a causal LM: next-token
    cross-entropy on the tokens whose label is not -100) and validation measures that loss alone.

    Checkpoints go to `checkpoint_dir` every `save_steps`; with `resume`, a run
    whose fingerprint (params and data) matches the one stored there continues
    from the last checkpoint, otherwise the folder is cleared first. The folder
    is removed after a successful run.
    """
    from transformers import Trainer, TrainerCallback, TrainingArguments
    from transformers.integrations import DVCLiveCallback
    from transformers.trainer_utils import get_last_checkpoint

    from dvclive import Live

    checkpoint_dir = Path(checkpoint_dir)
    fingerprint = fingerprint or {}
    t = options.train
    metric = t.early_stopping.metric
    if causal_lm and metric != "loss":
        raise ValueError(f"train.early_stopping.metric is {metric}; a causal LM is selected by loss: set it to loss")
    # Batches of similar length waste less compute on padding (SMS: half the tokens); cached features have none.
    by_length = t.group_by_length and bool(train_rows) and "input_ids" in train_rows[0]
    args = TrainingArguments(
        output_dir=str(checkpoint_dir),
        learning_rate=options.learning_rate,
        num_train_epochs=options.epochs,
        max_steps=t.max_steps or -1,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # below 1: a ratio of the steps (transformers 5)
        weight_decay=t.weight_decay,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        eval_strategy="steps",
        eval_steps=t.eval_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model=f"eval_{metric}",
        greater_is_better=metric != "loss",
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=False,
        train_sampling_strategy="group_by_length" if by_length else "random",
        prediction_loss_only=causal_lm,  # never gather (rows x tokens x vocabulary) logits
        **precision_flags(t.mixed_precision),
    )
    # Under torchrun/accelerate the arguments join the process group; every process reads the checkpoint
    # folder before the first one clears it, and only the first one writes or deletes anything there.
    main = args.process_index == 0
    last = None
    if resume and checkpoint_dir.is_dir() and fingerprint_matches(checkpoint_dir, fingerprint):
        last = get_last_checkpoint(str(checkpoint_dir))
    elif checkpoint_dir.exists() and main:
        log.info("starting afresh: %s holds checkpoints of other params or data (or resume is off)", checkpoint_dir)
    _barrier()
    if main:
        if last is None:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        (checkpoint_dir / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, sort_keys=True))
    _barrier()
    resumed_from = int(Path(last).name.split("-")[-1]) if last else None
    if last and main:
        log.info("resuming from %s (step %d)", last, resumed_from)
    all_callbacks = list(callbacks)
    stop = t.early_stopping
    per_epoch = steps_per_epoch(len(train_rows), t.batch_size, t.gradient_accumulation_steps, args.world_size)
    min_steps = in_steps(stop.minimum, stop.unit, per_epoch)
    patience = None if stop.patience is None else in_steps(stop.patience, stop.unit, per_epoch)
    stopper = type("StepPatienceCallback", (StepPatience, TrainerCallback), {})
    all_callbacks.append(stopper(metric, metric != "loss", patience, min_steps))
    live = None
    if live_dir is not None and main:
        # dvcyaml=None and save_dvc_exp=False: dvclive must never rewrite dvc.yaml nor make experiments;
        # dvc.yaml declares the plots itself.
        live = Live(str(live_dir), dvcyaml=None, save_dvc_exp=False, resume=last is not None)
        all_callbacks.append(DVCLiveCallback(live=live))

    class MinimumStepsTrainer(Trainer):
        """Keeps no evaluation before `min_steps` as the best (the last one always counts)."""

        def _determine_best_metric(self, metrics: dict[str, float], trial: Any) -> bool:
            if not counts_as_best(self.state.global_step, min_steps, self.state.max_steps):
                return False
            return super()._determine_best_metric(metrics, trial)

    trainer = MinimumStepsTrainer(
        model=model,
        args=args,
        train_dataset=list(train_rows),
        eval_dataset=list(val_rows),
        data_collator=collator,
        compute_metrics=None if causal_lm else classification_metrics,
        compute_loss_func=None if causal_lm else weighted_loss(class_weights),
        callbacks=all_callbacks,
    )
    output = trainer.train(resume_from_checkpoint=last)
    if live is not None:
        live.end()
        drop_timing_curves(Path(live_dir))
    state = trainer.state
    best_step = getattr(state, "best_global_step", None)
    if best_step is None and state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1])
    if main:
        log.info(
            "kept step %s of %d (best validation %s %s)%s", best_step, state.global_step, metric, state.best_metric,
            f"; evaluations before step {min_steps} were not candidates" if min_steps else "",
        )  # fmt: skip
    _barrier()  # every process has loaded the best checkpoint before the folder goes
    if main:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return FitResult(
        best_metric=None if state.best_metric is None else float(state.best_metric),
        best_step=best_step,
        global_step=int(state.global_step),
        samples_per_second=float(output.metrics.get("train_samples_per_second", 0.0)),
        resumed_from_step=resumed_from,
    )


def drop_timing_curves(live_dir: Path) -> None:
    """Leave in dvclive's folder only curves that a rerun reproduces byte for byte.

    The curves are git-tracked (`cache: false`) so a clone has them and `dvc plots diff` works across
    commits, and compare depends on the folder: a rerun must give the same bytes. Removed: the curves that
    time the machine (runtime, samples or steps per second), dvclive's `metrics.json` summary (it holds the
    same runtimes) and its `params.yaml` copy of the TrainingArguments (params.yaml is the config).
    """
    for path in sorted((live_dir / "plots").rglob("*.tsv")):
        if path.stem == "runtime" or path.stem.endswith("_per_second"):
            path.unlink()
    for name in ("metrics.json", "params.yaml"):
        (live_dir / name).unlink(missing_ok=True)


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
