"""adapter: a PEFT method (LoRA on every attention and MLP projection by default) on the frozen causal LM.

The adapter is saved alone in `adapter/` (a few hundred KB); with `merge` (LoRA-like methods) the merged
model is saved as well, as a standard Hugging Face folder in `out_dir` itself, which
pipeline('text-generation') loads without PEFT. Loading prefers the merged model.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from schemas.approaches import peft_config_class
from schemas.causal import CausalAdapterApproach
from stages.lib.core.errors import StageError
from stages.lib.model.approaches.adapter import _sort_target_modules
from stages.lib.model.causal.base import load_causal_lm, save_model

ADAPTER_DIR = "adapter"


def peft_config(block: dict[str, Any]) -> Any:
    """PEFT's config object for the `peft` block, task type CAUSAL_LM."""
    kwargs = {k: v for k, v in block.items() if k != "peft_type"} | {"task_type": "CAUSAL_LM"}
    return peft_config_class(block["peft_type"])(**kwargs)


def build(cfg: CausalAdapterApproach, model: Any) -> Any:
    import peft

    return peft.get_peft_model(model, peft_config(cfg.peft))  # freezes every base weight


def save(model: Any, cfg: CausalAdapterApproach, out_dir: Path, tokenizer: Any) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir / ADAPTER_DIR))
    _sort_target_modules(out_dir / ADAPTER_DIR / "adapter_config.json")
    tokenizer.save_pretrained(str(out_dir / ADAPTER_DIR))
    if cfg.merge:
        # merge a copy: the trained PeftModel stays usable (evaluation may run right after training)
        save_model(copy.deepcopy(model).merge_and_unload(), tokenizer, out_dir)


def load(out_dir: Path, base_dir: Path, trust_remote_code: bool = False) -> Any:
    if (out_dir / "config.json").is_file():
        return load_causal_lm(out_dir, trust_remote_code).eval()
    adapter_dir = out_dir / ADAPTER_DIR
    if not (adapter_dir / "adapter_model.safetensors").is_file():  # PEFT would fall back to a pickled .bin
        raise StageError(
            f"{adapter_dir} has no adapter_model.safetensors; Refinery never loads pickled weights: run the "
            "train stage again to write it"
        )
    from peft import PeftModel

    # The base is loaded here: adapter_config.json records its path as given, which may not resolve from here.
    return PeftModel.from_pretrained(load_causal_lm(base_dir, trust_remote_code), str(adapter_dir)).eval()
