"""The three causal-LM approaches: what each trains, and that each saved model reloads with the same logits."""

from __future__ import annotations

import inspect

import pytest
import torch

from schemas.causal import CAUSAL_KINDS, default_causal_approaches
from stages.lib.model.causal import FUNCTIONS, KINDS
from stages.lib.model.causal.adapter import ADAPTER_DIR
from tests.stages.lib.model.causal.conftest import tiny_llama

PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_every_kind_has_a_module_with_the_same_functions():
    assert list(KINDS) == list(CAUSAL_KINDS)
    for kind, module in KINDS.items():
        assert module.__name__ == CAUSAL_KINDS[kind].module
        assert all(inspect.isfunction(getattr(module, f, None)) for f in FUNCTIONS), module.__name__
    assert {name: a.kind for name, a in default_causal_approaches().items()} == {k: k for k in CAUSAL_KINDS}


def test_full_trains_every_weight(tokenizer):
    model = KINDS["full"].build(CAUSAL_KINDS["full"](kind="full"), tiny_llama(tokenizer))
    assert trainable(model) == {n for n, _ in model.named_parameters()}


@pytest.mark.parametrize("blocks", [0, 1, 2])
def test_feature_trains_the_top_blocks_the_final_norm_and_the_lm_head(tokenizer, blocks):
    cfg = CAUSAL_KINDS["feature"](kind="feature", trainable_blocks=blocks)
    names = trainable(KINDS["feature"].build(cfg, tiny_llama(tokenizer)))
    expected_layers = {str(i) for i in range(2 - blocks, 2)}
    assert {n.split(".")[2] for n in names if n.startswith("model.layers.")} == expected_layers
    assert {"lm_head.weight", "model.norm.weight"} <= names
    assert not any(n.startswith("model.embed_tokens") for n in names)


def test_feature_refuses_more_blocks_than_the_model_has(tokenizer):
    cfg = CAUSAL_KINDS["feature"](kind="feature", trainable_blocks=3)
    with pytest.raises(ValueError, match="trainable_blocks is 3 but the model has 2 decoder blocks"):
        KINDS["feature"].build(cfg, tiny_llama(tokenizer))


def test_default_adapter_is_lora_on_every_attention_and_mlp_projection(tokenizer):
    model = KINDS["adapter"].build(CAUSAL_KINDS["adapter"](kind="adapter"), tiny_llama(tokenizer))
    names = trainable(model)
    assert names and all("lora_" in n for n in names)
    parts = [n.split(".") for n in names]
    assert {p[p.index("lora_A" if "lora_A" in p else "lora_B") - 1] for p in parts} == PROJECTIONS
    assert not any("lm_head" in n for n in names)


def _perturb(model):
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)  # LoRA's B starts at zero: make the adapter do something


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("full", {}), ("feature", {"trainable_blocks": 1}), ("adapter", {"merge": True}), ("adapter", {"merge": False})],
)
def test_saved_model_reloads_with_the_same_logits(tokenizer, tmp_path, kind, extra):
    from stages.lib.model.causal.base import save_model

    base_dir, out = tmp_path / "base", tmp_path / "out"
    base = tiny_llama(tokenizer)
    save_model(base, tokenizer, base_dir)
    cfg = CAUSAL_KINDS[kind](kind=kind, **extra)
    model = KINDS[kind].build(cfg, tiny_llama(tokenizer))
    _perturb(model)
    model.eval()
    KINDS[kind].save(model, cfg, out, tokenizer)
    again = KINDS[kind].load(out, base_dir)
    ids = torch.tensor([tokenizer("What colour is the sea?", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-5, rtol=1e-4)
    if kind == "adapter":
        assert (out / ADAPTER_DIR / "adapter_model.safetensors").is_file()
        assert (out / "config.json").is_file() == extra["merge"]


def test_a_merged_model_is_a_plain_text_generation_pipeline(tokenizer, tmp_path):
    from transformers import pipeline

    cfg = CAUSAL_KINDS["adapter"](kind="adapter")
    model = KINDS["adapter"].build(cfg, tiny_llama(tokenizer))
    KINDS["adapter"].save(model, cfg, tmp_path, tokenizer)
    generate = pipeline("text-generation", model=str(tmp_path), tokenizer=str(tmp_path))
    out = generate([{"role": "user", "content": "What colour is the sky?"}], max_new_tokens=3, do_sample=False)
    assert out[0]["generated_text"][-1]["role"] == "assistant"
