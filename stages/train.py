"""train@<approach>: fine-tune the base model with one approach from `approaches` in params.yaml.

`python -m stages.train <approach>` reads the train and validation splits,
trains with the approach's module (stages/lib/model/approaches/<kind>.py), keeps the
best validation checkpoint and writes models/<approach>/,
metrics/train/<approach>.json (the best validation metric),
metrics/details/train/<approach>.json (parameter counts, steps, best step)
and the time and memory to reports/timings/train/<approach>.json.
"""

from __future__ import annotations

import hashlib
import json
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
from stages.lib.core.io import atomic_path
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.approaches import KINDS
from stages.lib.model.baselines import majority_score
from stages.lib.model.data import prepare_data
from stages.lib.model.preflight import check_class_settings
from stages.lib.model.textclf import META_FILE, count_params, hidden_size, load_backbone, peak_memory_mb, read_split
from stages.lib.model.training import TrainOptions, precision_flags, seed_everything
from stages.lib.text.fingerprint import text_fingerprint

log = get_logger("train")


def options_for(approach: Any, train: TrainParams, num_threads: int) -> TrainOptions:
    """The shared `train` section with the approach's learning rate and epochs."""
    return TrainOptions(
        train=train,
        learning_rate=approach.learning_rate,
        epochs=approach.epochs or train.epochs,
        num_threads=num_threads,
    )


def run(
    name: str,
    approach: Any,
    train: TrainParams,
    model_cfg: ModelParams,
    paths: TrainPaths,
    base_paths: BaseModelPaths,
    callbacks: Sequence[Any] = (),
    text: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train approach `name`, write models/<name>/ atomically, return the metrics.

    `text` is the fingerprint of the text settings the training rows were made with
    (`stages.lib.text.fingerprint.text_fingerprint`); the model folder records it, and predict refuses other settings.
    """
    options = options_for(approach, train, model_cfg.num_threads)
    try:
        precision_flags(train.mixed_precision)
    except ValueError as exc:
        raise StageError(str(exc)) from None
    seed_everything(train.seed, model_cfg.num_threads)
    data_dir, base_dir = Path(paths.data_dir), Path(base_paths.out)
    module = KINDS[approach.kind]
    data = prepare_data(
        data_dir,
        base_dir,
        paths.class_weights,
        train,
        model_cfg.trust_remote_code,
        reserve=module.reserved_positions(approach),
    )
    labels = data.labels
    backbone = load_backbone(base_dir, model_cfg.trust_remote_code)
    model = module.build(approach, backbone, len(labels))
    trainable, total = count_params(model)
    log.info(
        "%s (%s): %d of %d parameters trainable (%.2f%%), %d train / %d validation rows",
        name,
        approach.kind,
        trainable,
        total,
        100 * trainable / total,
        len(data.train_rows),
        len(data.val_rows),
    )
    fingerprint = {
        "approach": approach.model_dump(mode="json"),
        "train": train.model_dump(mode="json", exclude={"resume"}),
        "model": model_cfg.model_dump(mode="json"),
        "data": _digest([data_dir / "train.parquet", data_dir / "validation.parquet", Path(paths.class_weights)]),
    }
    start = time.perf_counter()
    fit = module.train(
        approach,
        model,
        data,
        options,
        Path(paths.checkpoints_dir) / name,
        Path(paths.live_dir) / name,
        train.resume,
        fingerprint,
        callbacks,
    )
    spread = None
    if train.seeds > 1:
        spread = seed_spread(
            name, approach, train, model_cfg, paths, base_dir, module, data, fit, fingerprint, Path(base_paths.train)
        )
    seconds = time.perf_counter() - start
    if not is_main_process():
        return {}  # under accelerate/torchrun only the first process writes outputs
    with atomic_path(Path(paths.models_dir) / name) as tmp:
        tmp.mkdir(parents=True)
        module.save(model, approach, tmp)
        meta = {
            "approach": name,
            "kind": approach.kind,
            "labels": labels,
            "pooling": approach.pooling,
            "layer": model.layer,
            "head": {"in_features": hidden_size(backbone), **approach.head.model_dump(exclude={"type"})},
            "max_length": data.max_length,
            "text": text,
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    metric = train.early_stopping.metric
    return {
        "trainable_params": trainable,
        "total_params": total,
        "trainable_fraction": trainable / total,
        "train_seconds": round(seconds, 2),
        "samples_per_second": round(fit.samples_per_second, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "best_validation": {metric: fit.best_metric, "step": fit.best_step},
        "steps": fit.global_step,
        "train_rows": len(data.train_rows),
        "validation_rows": len(data.val_rows),
        "resumed_from_step": fit.resumed_from_step,
        "dropped": data.dropped,
    } | ({"seeds": spread} if spread is not None else {})


def seed_spread(
    name: str,
    approach: Any,
    train: TrainParams,
    model_cfg: ModelParams,
    paths: TrainPaths,
    base_dir: Path,
    module: Any,
    data: Any,
    first: Any,
    fingerprint: dict[str, Any],
    split_train: Path,
) -> dict[str, Any]:
    """Train `train.seeds - 1` more times (seeds seed+1, ...) and summarise the best validation metric of all
    the runs: mean, standard deviation, range, and the runs at or below the majority class (failed).

    The extra runs keep no model and write no learning curves; each has its own checkpoint folder, so an
    interrupted run resumes where it stopped.
    """
    import numpy as np

    metric = train.early_stopping.metric
    values = [float("nan") if first.best_metric is None else first.best_metric]
    for seed in range(train.seed + 1, train.seed + train.seeds):
        run_train = train.model_copy(update={"seed": seed})
        seed_everything(seed, model_cfg.num_threads)
        model = module.build(approach, load_backbone(base_dir, model_cfg.trust_remote_code), len(data.labels))
        fit = module.train(
            approach,
            model,
            data,
            options_for(approach, run_train, model_cfg.num_threads),
            Path(paths.checkpoints_dir) / f"{name}-seed{seed}",
            None,
            train.resume,
            fingerprint | {"seed": seed},
        )
        values.append(float("nan") if fit.best_metric is None else fit.best_metric)
        log.info("%s, seed %d: best validation %s %.4f", name, seed, metric, values[-1])
    actual = [data.labels[r["labels"]] for r in data.val_rows]
    majority = majority_score(read_split(split_train)[2], actual, metric)  # fitted on the split's train rows
    worse = (lambda v: v >= majority) if metric == "loss" else (lambda v: v <= majority)
    array = np.asarray(values, dtype=float)
    return {
        "seeds": list(range(train.seed, train.seed + train.seeds)),
        "metric": metric,
        "values": [round(v, 6) for v in values],
        "mean": round(float(array.mean()), 6),
        "std": round(float(array.std(ddof=1)), 6),
        "min": round(float(array.min()), 6),
        "max": round(float(array.max()), 6),
        "majority_class": None if majority is None else round(majority, 6),
        "failed": 0 if majority is None else sum(1 for v in values if worse(v)),
    }


def is_main_process() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _digest(files: list[Path]) -> dict[str, str | None]:
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None for f in files}


def main() -> None:
    if len(sys.argv) != 2:
        raise StageError("usage: python -m stages.train <approach>")
    params = load_params(check_peft=True)
    name = sys.argv[1]
    if name not in params.approaches:
        raise StageError(f"approach '{name}' is not in params.yaml approaches: {', '.join(params.approaches)}")
    check_class_settings(params, params.paths.split.dir)  # what compare, audit, review need: fail before training
    text = text_fingerprint(params.clean.normalize.model_dump(), params.clean.pii.model_dump())
    metrics = run(
        name,
        params.approaches[name],
        params.train,
        params.model,
        params.paths.train,
        params.paths.base_model,
        text=text,
    )
    if metrics:  # empty on every process but the first under torchrun/accelerate
        p = params.paths.train
        headline = (f"best_validation.{params.train.early_stopping.metric}",)
        write_metrics(
            metrics,
            headline,
            Path(p.metrics_dir) / f"{name}.json",
            Path(p.details_dir) / f"{name}.json",
            params.paths.timings,
            f"train/{name}",
        )
        log.info("wrote models and metrics of %s", name)


if __name__ == "__main__":
    cli(main)
