"""adapter: a PEFT method (LoRA, IA3, LoHa, prompt tuning...) on the frozen backbone; the head trains alongside.

PEFT wraps the backbone alone (task type feature extraction), so every PEFT
method works on the same mean-pooled classifier and no random pooler sneaks in
(peft adds a sequence classifier's head to `modules_to_save` but not BERT's pooler, which then stays
random, is not saved, and makes a reloaded adapter give other logits). The head is trained with the
adapter, like `modules_to_save`, and saved beside it as head.safetensors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.approaches import AdapterApproach
from stages.lib.core.errors import StageError
from stages.lib.model import training
from stages.lib.model.approaches.common import Data, assemble, fit_tokens, make_head, save_head
from stages.lib.model.peft_config import peft_config_class, peft_kwargs
from stages.lib.model.textclf import Classifier, load_backbone

ADAPTER_DIR = "adapter"
MERGED_DIR = "backbone"


def reserved_positions(cfg: AdapterApproach) -> int:
    """Positions a prompt-learning method (prompt or prefix tuning...) prepends to every input; 0 for LoRA."""
    return int(cfg.peft.get("num_virtual_tokens", 0) or 0)


def build(cfg: AdapterApproach, backbone, num_labels: int) -> Classifier:
    import peft

    config = peft_config_class(cfg.peft["peft_type"])(**peft_kwargs(cfg.peft))
    wrapped = peft.get_peft_model(backbone, config)  # freezes every base parameter
    head = make_head(backbone, num_labels, cfg.head.hidden_sizes, cfg.head.dropout)
    return Classifier(wrapped, head, cfg.pooling)


def train(
    cfg: AdapterApproach,
    model: Classifier,
    data: Data,
    options: training.TrainOptions,
    checkpoint_dir: Path,
    live_dir: Path | None,
    resume: bool,
    fingerprint: dict[str, Any],
    callbacks: Sequence[Any] = (),
):
    return fit_tokens(model, data, options, checkpoint_dir, live_dir, resume, fingerprint, callbacks)


def save(model: Classifier, cfg: AdapterApproach, out_dir: Path) -> None:
    if cfg.merge:
        model.backbone.merge_and_unload().save_pretrained(str(out_dir / MERGED_DIR))
    else:
        model.backbone.save_pretrained(str(out_dir / ADAPTER_DIR))
        _sort_target_modules(out_dir / ADAPTER_DIR / "adapter_config.json")
    save_head(model, out_dir)


def _sort_target_modules(config_file: Path) -> None:
    """PEFT keeps `target_modules` as a set and writes it in hash order, which changes between processes:
    the same adapter would get a new DVC hash on every run. Write the list sorted."""
    config = json.loads(config_file.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load(out_dir: Path, base_dir: Path, meta: dict[str, Any], trust_remote_code: bool = False) -> Classifier:
    if (out_dir / MERGED_DIR).is_dir():
        return assemble(load_backbone(out_dir / MERGED_DIR, trust_remote_code), out_dir, meta)
    from peft import PeftModel

    adapter_dir = out_dir / ADAPTER_DIR
    if not (adapter_dir / "adapter_model.safetensors").is_file():  # PEFT would fall back to a pickled .bin
        raise StageError(
            f"{adapter_dir} has no adapter_model.safetensors; Refinery never loads pickled weights: run the "
            "train stage again to write it"
        )
    # Load the base ourselves: adapter_config.json records the base path as given, which may not resolve from
    # here, and then peft tries the hub.
    backbone = PeftModel.from_pretrained(load_backbone(base_dir, trust_remote_code), str(adapter_dir))
    return assemble(backbone, out_dir, meta)
