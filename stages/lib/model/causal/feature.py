"""feature: the pre-trained body frozen; the top `trainable_blocks` decoder blocks, the final norm and the LM head
trained.

A classifier's feature-based approach trains a head on frozen features. A causal LM's head is its LM head
(last hidden state -> next-token logits), so the same reading here is: freeze the body, train the head, and
optionally let the top N blocks adapt (N = 0 is a linear probe of the frozen model). When the LM head is tied to
the input embeddings (many small pretrained models), training it trains the embeddings too: the tie is kept,
and the trainable-parameter count shows it. The whole model is saved, a standard Hugging Face folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from schemas.causal import CausalFeatureApproach
from stages.lib.model.causal.base import load_causal_lm, save_model


def decoder_blocks(model: Any) -> nn.ModuleList:
    """The stack of decoder blocks of a causal LM (Llama-style `model.layers`, GPT-2-style `transformer.h`...)."""
    candidates = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not candidates:
        raise ValueError(f"{type(model).__name__} has no stack of decoder blocks to unfreeze")
    return max(candidates, key=len)


def final_norm(model: Any) -> nn.Module | None:
    """The norm after the last block (`model.norm` in Llama, `transformer.ln_f` in GPT-2), when there is one."""
    body = model.get_decoder() if hasattr(model, "get_decoder") else None
    for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
        module = getattr(body, name, None)
        if isinstance(module, nn.Module):
            return module
    return None


def build(cfg: CausalFeatureApproach, model: Any) -> Any:
    blocks = decoder_blocks(model)
    if cfg.trainable_blocks > len(blocks):
        raise ValueError(
            f"trainable_blocks is {cfg.trainable_blocks} but the model has {len(blocks)} decoder blocks; "
            f"set it to at most {len(blocks)} (or use kind: full)"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    top = list(blocks)[len(blocks) - cfg.trainable_blocks :] if cfg.trainable_blocks else []
    head = model.get_output_embeddings()
    for module in [*top, final_norm(model), head]:
        if module is not None:
            for p in module.parameters():
                p.requires_grad_(True)
    return model


def save(model: Any, cfg: CausalFeatureApproach, out_dir: Path, tokenizer: Any) -> None:
    save_model(model, tokenizer, out_dir)


def load(out_dir: Path, base_dir: Path, trust_remote_code: bool = False) -> Any:
    return load_causal_lm(out_dir, trust_remote_code).eval()
