"""train@<approach>: fine-tune the base model with one approach from `approaches` in params.yaml.

`python -m stages.train <approach>` reads the train and validation splits,
trains with the approach's module (stages/lib/model/approaches/<kind>.py), keeps the
best validation checkpoint and writes models/<approach>/,
metrics/train/<approach>.json (the best validation metric),
metrics/details/train/<approach>.json (parameter counts, steps, best step)
and the time and memory to reports/timings/train/<approach>.json.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths, TrainPaths
from schemas.train import TrainParams
from stages.lib.core.errors import StageError, cli
from stages.lib.core.folders import split_file
from stages.lib.core.io import atomic_path
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.baselines import majority_on_validation
from stages.lib.model.manifest import write_manifest
from stages.lib.model.preflight import check_class_settings
from stages.lib.model.textclf import count_params, peak_memory_mb
from stages.lib.model.train_one import classifier_spread, digest, is_main_process, load_data, save_trained, train_one
from stages.lib.model.training import precision_flags
from stages.lib.text.fingerprint import text_fingerprint

log = get_logger("train")


def run(
    name: str,
    approach: Any,
    train: TrainParams,
    model_cfg: ModelParams,
    paths: TrainPaths,
    base_paths: BaseModelPaths,
    callbacks: Sequence[Any] = (),
    text: Mapping[str, Any] | None = None,
    split_dir: str | None = None,
) -> dict[str, Any]:
    """Train approach `name`, write models/<name>/ atomically, return the metrics.

    `text` is the fingerprint of the text settings the training rows were made with
    (`stages.lib.text.fingerprint.text_fingerprint`); the model folder records it, and predict refuses other settings.
    `split_dir` is the split stage's folder, whose train rows (before augment and balance) give the majority
    baseline of the seed spread; None when the approaches train straight from the split (`paths.train.data_dir`).
    """
    try:
        precision_flags(train.mixed_precision)
    except ValueError as exc:
        raise StageError(str(exc)) from None
    data_dir, base_dir = Path(paths.data_dir), Path(base_paths.out)
    data = load_data(approach, train, model_cfg, data_dir, base_dir, paths.class_weights)
    fingerprint = {
        "approach": approach.model_dump(mode="json"),
        "train": train.model_dump(mode="json", exclude={"resume"}),
        "model": model_cfg.model_dump(mode="json"),
        "data": digest([Path(paths.split("train")), Path(paths.split("validation")), Path(paths.class_weights)]),
    }
    start = time.perf_counter()
    checkpoints = Path(paths.checkpoints_dir)
    trained = train_one(
        approach, data, train, model_cfg, base_dir, checkpoints / name, Path(paths.live_dir) / name, train.resume,
        fingerprint, callbacks,
    )  # fmt: skip
    fit, metric = trained.fit, train.early_stopping.metric
    spread = None
    if train.seeds > 1:
        spread = classifier_spread(
            approach, data, train, model_cfg, base_dir, lambda seed: checkpoints / f"{name}-seed{seed}", fit,
            fingerprint, majority_on_validation(data, metric, split_file(split_dir or paths.data_dir, "train")),
        )  # fmt: skip
    seconds = time.perf_counter() - start
    if not is_main_process():
        return {}  # under accelerate/torchrun only the first process writes outputs
    with atomic_path(Path(paths.models_dir) / name) as tmp:
        tmp.mkdir(parents=True)
        save_trained(name, approach, trained, data, tmp, text)
        write_manifest(tmp)  # last: predict and evaluate verify it before loading
    trainable, total = count_params(trained.model)
    return {
        "trainable_params": trainable,
        "total_params": total,
        "trainable_fraction": trainable / total,
        "train_seconds": round(seconds, 2),
        "samples_per_second": round(fit.samples_per_second, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "num_threads": model_cfg.num_threads,  # as chosen (model.num_threads: auto); same count, same weights
        "best_validation": {metric: fit.best_metric, "step": fit.best_step},
        "steps": fit.global_step,
        "train_rows": len(data.train_rows),
        "validation_rows": len(data.val_rows),
        "resumed_from_step": fit.resumed_from_step,
        "dropped": data.dropped,
    } | ({"seeds": spread} if spread is not None else {})


def main() -> None:
    if len(sys.argv) != 2:
        raise StageError("usage: python -m stages.train <approach>")
    params = load_params(check_peft=True)
    name = sys.argv[1]
    if name not in params.approaches:
        raise StageError(f"approach '{name}' is not in params.yaml approaches: {', '.join(params.approaches)}")
    if params.task == "sft":  # a causal LM on render's rows: stages/lib/model/causal/stage.py
        from stages.lib.model.causal import stage as sft

        p = params.paths.train
        metrics = sft.run_train(name, params)
        if metrics:  # empty on every process but the first under torchrun/accelerate
            write_metrics(metrics, sft.TRAIN_HEADLINE, Path(p.metrics_dir) / f"{name}.json",
                          Path(p.details_dir) / f"{name}.json", params.paths.timings, f"train/{name}")  # fmt: skip
            log.info("wrote models and metrics of %s", name)
        return
    check_class_settings(params, params.paths.split.dir)  # what compare, audit, review need: fail before training
    text = text_fingerprint(params.clean.normalize.model_dump(), params.clean.pii.model_dump())
    p = params.paths
    metrics = run(
        name,
        params.approaches[name],
        params.train,
        params.model,
        p.train,
        p.base_model,
        text=text,
        split_dir=p.split.dir,
    )
    if metrics:  # empty on every process but the first under torchrun/accelerate
        headline = (f"best_validation.{params.train.early_stopping.metric}",)
        write_metrics(
            metrics,
            headline,
            Path(p.train.metrics_dir) / f"{name}.json",
            Path(p.train.details_dir) / f"{name}.json",
            p.timings,
            f"train/{name}",
        )
        log.info("wrote models and metrics of %s", name)


if __name__ == "__main__":
    cli(main)
