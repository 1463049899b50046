"""Training one approach, the way train@<approach> and the learning curves both do it.

    load_data(approach, train, model_cfg, data_dir, base_dir, class_weights) -> Data
    train_one(approach, data, train, model_cfg, base_dir, checkpoint_dir, ...) -> Trained
    seed_spread(train, first, fit_seed, majority) -> dict               the extra seeds of train.seeds
    save_trained(name, approach, trained, data, base_dir, out_dir)           models/<approach>/ as evaluate reads it

Each run seeds python, numpy and torch and pins the thread count first, so the same params and data give
the same weights on the same machine.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.model import ModelParams
from schemas.train import TrainParams
from stages.lib.core.log import get_logger
from stages.lib.model.approaches import KINDS
from stages.lib.model.approaches.common import Data
from stages.lib.model.data import prepare_data
from stages.lib.model.textclf import META_FILE, count_params, hidden_size, load_backbone
from stages.lib.model.training import FitResult, options_for, seed_everything

log = get_logger("train")


@dataclass
class Trained:
    """A trained model, what its loop reported, the seconds the loop took (tokenising not included) and the
    width of its backbone's text vectors (what the head takes in)."""

    model: Any
    fit: FitResult
    seconds: float
    hidden_size: int


def load_data(
    approach: Any, train: TrainParams, model_cfg: ModelParams, data_dir: Path, base_dir: Path, class_weights: str | Path
) -> Data:
    """The tokenised train and validation rows, with the positions the approach reserves kept free."""
    module = KINDS[approach.kind]
    return prepare_data(
        data_dir,
        base_dir,
        class_weights,
        train,
        model_cfg.trust_remote_code,
        reserve=module.reserved_positions(approach),
    )


def train_one(
    approach: Any,
    data: Data,
    train: TrainParams,
    model_cfg: ModelParams,
    base_dir: Path,
    checkpoint_dir: Path,
    live_dir: Path | None = None,
    resume: bool = False,
    fingerprint: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> Trained:
    """Seed with `train.seed`, build the approach on a fresh backbone from `base_dir`, train it on `data`."""
    module = KINDS[approach.kind]
    seed_everything(train.seed, model_cfg.num_threads)
    backbone = load_backbone(base_dir, model_cfg.trust_remote_code)
    model = module.build(approach, backbone, len(data.labels))
    trainable, total = count_params(model)
    log.info(
        "%s, seed %d: %d of %d parameters trainable (%.2f%%), %d train / %d validation rows",
        approach.kind,
        train.seed,
        trainable,
        total,
        100 * trainable / total,
        len(data.train_rows),
        len(data.val_rows),
    )
    options = options_for(approach, train, model_cfg.num_threads)
    start = time.perf_counter()
    fit = module.train(approach, model, data, options, checkpoint_dir, live_dir, resume, fingerprint or {}, callbacks)
    return Trained(model, fit, time.perf_counter() - start, hidden_size(backbone))


def seed_spread(
    train: TrainParams, first: FitResult, fit_seed: Callable[[int], FitResult], majority: float | None
) -> dict[str, Any]:
    """Train `train.seeds - 1` more times (seeds seed+1, ...) and summarise the best validation metric of all
    the runs: mean, standard deviation, range, and the runs at or below the majority class (failed).

    `fit_seed(seed)` trains a fresh model with that seed and returns its FitResult; the extra runs keep no
    model and write no learning curves, each in its own checkpoint folder, so an interrupted run resumes where
    it stopped (`classifier_spread` for the classifiers; the causal LMs train through
    stages.lib.model.causal.training.train_approach). `majority` is the validation metric of always predicting
    the most frequent class (None for loss, the causal LMs' metric).
    """
    import numpy as np

    metric = train.early_stopping.metric
    values = [float("nan") if first.best_metric is None else first.best_metric]
    for seed in range(train.seed + 1, train.seed + train.seeds):
        fit = fit_seed(seed)
        values.append(float("nan") if fit.best_metric is None else fit.best_metric)
        log.info("seed %d: best validation %s %.4f", seed, metric, values[-1])
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


def classifier_spread(
    approach: Any,
    data: Data,
    train: TrainParams,
    model_cfg: ModelParams,
    base_dir: Path,
    checkpoint_dir: Callable[[int], Path],
    first: FitResult,
    fingerprint: dict[str, Any],
    majority: float | None,
) -> dict[str, Any]:
    """`seed_spread` of a classifier approach: train_one with each extra seed in `checkpoint_dir(seed)`, failures
    judged against `majority` (stages.lib.model.baselines.majority_on_validation)."""

    def fit_seed(seed: int) -> FitResult:
        run_train = train.model_copy(update={"seed": seed})
        return train_one(
            approach, data, run_train, model_cfg, base_dir, checkpoint_dir(seed), None, train.resume,
            fingerprint | {"seed": seed},
        ).fit  # fmt: skip

    return seed_spread(train, first, fit_seed, majority)


def save_trained(
    name: str, approach: Any, trained: Trained, data: Data, out_dir: Path, text: Mapping[str, Any] | None
) -> None:
    """Write what evaluate and predict load into `out_dir` (an empty folder): the approach's weights and the
    meta file (labels, pooling, head, max_length, and `text`, the fingerprint of the text settings)."""
    model = trained.model
    KINDS[approach.kind].save(model, approach, out_dir)
    meta = {
        "approach": name,
        "kind": approach.kind,
        "labels": data.labels,
        "pooling": approach.pooling,
        "layer": model.layer,
        "head": {"in_features": trained.hidden_size, **approach.head.model_dump(exclude={"type"})},
        "max_length": data.max_length,
        "text": text,
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def is_main_process() -> bool:
    """False on every process but the first under torchrun/accelerate (only the first writes outputs)."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def digest(files: list[Path]) -> dict[str, str | None]:
    """SHA-256 of each file (None when absent): the data part of a checkpoint fingerprint."""
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None for f in files}
