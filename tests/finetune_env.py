"""A tiny project for the fine-tuning tests: split folder, scratch base model, paths, params."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.approaches import KINDS as APPROACH_MODELS
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths, EvaluatePaths, TrainPaths
from schemas.train import TrainParams
from stages import base_model
from tests.finetune_fixtures import tiny_model_params, tiny_train_params, write_split


@dataclass
class Env:
    root: Path
    model: ModelParams
    base: BaseModelPaths
    train_paths: TrainPaths
    eval_paths: EvaluatePaths

    def train_params(self, **overrides: Any) -> TrainParams:
        return TrainParams.model_validate(tiny_train_params(**overrides))

    def paths_under(self, sub: str) -> TrainPaths:
        """Train paths whose models, metrics, curves and checkpoints live under `sub` (the data is shared)."""
        out = self.root / sub
        return TrainPaths(
            data_dir=str(self.root / "data"),
            models_dir=str(out / "models"),
            metrics_dir=str(out / "metrics/train"),
            live_dir=str(out / "dvclive"),
            checkpoints_dir=str(out / "checkpoints"),
        )


def approach(kind: str, **fields: Any):
    return APPROACH_MODELS[kind].model_validate({"kind": kind} | fields)


def make_env(root: Path, class_weights: dict[str, float] | None = None) -> Env:
    write_split(root / "data", class_weights)
    model = ModelParams.model_validate(tiny_model_params(steps=3))
    base = BaseModelPaths(out=str(root / "models/base"), metrics=str(root / "metrics/base_model.json"))
    base_model.run(model, base, str(root / "data"))
    env = Env(root, model, base, TrainPaths(), EvaluatePaths())
    env.train_paths = env.paths_under(".")
    env.eval_paths = EvaluatePaths(
        metrics_dir=str(root / "metrics/eval"),
        predictions_dir=str(root / "predictions"),
        confusion_dir=str(root / "plots/confusion"),
    )
    return env
