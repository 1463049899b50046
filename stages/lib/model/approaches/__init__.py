"""One module per fine-tuning approach, each with the same functions and no shared base class:

    build(cfg, backbone, num_labels) -> Classifier      freeze what the approach freezes, add the head
    train(cfg, model, data, options, ...) -> FitResult  train it (through stages.lib.model.training.fit)
    save(model, cfg, out_dir)                           write what evaluate needs besides models/base
    load(out_dir, base_dir, meta, trust_remote_code) -> Classifier
    reserved_positions(cfg) -> int                      input positions the approach adds (virtual tokens)

The kinds are registered once, in schemas/approaches.py (`REGISTERED`): each params model names its module.
To add a kind: copy full.py, change what it freezes and saves, add its params model there with `module`
pointing here, and append it to REGISTERED.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from schemas.approaches import KINDS as PARAMS_MODELS

FUNCTIONS = ("build", "train", "save", "load", "reserved_positions")


KINDS: dict[str, ModuleType] = {kind: importlib.import_module(m.module) for kind, m in PARAMS_MODELS.items()}
