"""full: every weight of the causal LM is trained; the result is a standard Hugging Face model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas.causal import CausalFullApproach
from stages.lib.model.causal.base import load_causal_lm, save_model


def build(cfg: CausalFullApproach, model: Any) -> Any:
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def save(model: Any, cfg: CausalFullApproach, out_dir: Path, tokenizer: Any) -> None:
    save_model(model, tokenizer, out_dir)


def load(out_dir: Path, base_dir: Path, trust_remote_code: bool = False) -> Any:
    return load_causal_lm(out_dir, trust_remote_code).eval()
