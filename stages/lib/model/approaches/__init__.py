"""One module per fine-tuning approach, each with the same four functions and no shared base class:

    build(cfg, backbone, num_labels) -> Classifier      freeze what the approach freezes, add the head
    train(cfg, model, data, options, ...) -> FitResult  train it (through stages.lib.model.training.fit)
    save(model, cfg, out_dir)                           write what evaluate needs besides models/base
    load(out_dir, base_dir, meta, trust_remote_code) -> Classifier

To add an approach kind: copy full.py, change what it freezes and saves, add its params model to
schemas/approaches.py and its module to KINDS below.
"""

from __future__ import annotations

from types import ModuleType

from stages.lib.model.approaches import adapter, feature, full

KINDS: dict[str, ModuleType] = {"feature": feature, "full": full, "adapter": adapter}
