"""Params of the causal-LM models: every problem at its dotted path, with the fix."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from schemas.causal import (
    DEFAULT_LORA,
    CausalApproaches,
    CausalEvalParams,
    CausalModelParams,
    ScratchCausalModel,
    default_causal_approaches,
)

APPROACHES = TypeAdapter(CausalApproaches)


def test_defaults_validate_and_are_one_approach_per_kind():
    CausalModelParams()
    CausalEvalParams()
    approaches = APPROACHES.validate_python({k: v.model_dump() for k, v in default_causal_approaches().items()})
    assert {n: a.kind for n, a in approaches.items()} == {"feature": "feature", "full": "full", "adapter": "adapter"}
    assert approaches["adapter"].peft == DEFAULT_LORA


def test_local_needs_a_path_and_a_pin():
    with pytest.raises(ValidationError, match=r"set model\.path and model\.sha256"):
        CausalModelParams(source="local")
    with pytest.raises(ValidationError, match="String should match pattern"):
        CausalModelParams(source="local", path="models/x", sha256="abc")
    with pytest.raises(ValidationError, match="must be relative to the repository root"):
        CausalModelParams(source="local", path="/abs/model", sha256="0" * 64)
    CausalModelParams(source="local", path="data/models/tiny", sha256="0" * 64)


def test_scratch_heads_must_divide():
    with pytest.raises(ValidationError, match=r"num_heads \(3\) must divide hidden_size \(64\)"):
        ScratchCausalModel(num_heads=3)
    with pytest.raises(ValidationError, match=r"num_kv_heads \(3\) must divide num_heads \(4\)"):
        ScratchCausalModel(num_kv_heads=3)


def test_peft_problems_are_reported_at_their_key_by_peft_itself():
    with pytest.raises(ValidationError) as info:
        APPROACHES.validate_python({"lora": {"kind": "adapter", "peft": {"peft_type": "LORA", "r": 0, "alfa": 3}}})
    locs = {tuple(e["loc"]) for e in info.value.errors()}
    assert ("lora", "peft", "r") in locs and ("lora", "peft", "alfa") in locs
    assert "did you mean 'alpha'" in str(info.value) or "not an option of peft.LoraConfig" in str(info.value)


def test_prompt_tuning_cannot_be_merged_and_unknown_kinds_are_named():
    with pytest.raises(ValidationError, match="merge: true is impossible with PROMPT_TUNING"):
        APPROACHES.validate_python(
            {"p": {"kind": "adapter", "peft": {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4}}}
        )
    APPROACHES.validate_python(
        {"p": {"kind": "adapter", "merge": False, "peft": {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4}}}
    )
    with pytest.raises(ValidationError, match="must be one of feature, full, adapter"):
        APPROACHES.validate_python({"x": {"kind": "probe"}})
    with pytest.raises(ValidationError, match="'base' is the base model's folder"):
        APPROACHES.validate_python({"base": {"kind": "full"}})


def test_feature_blocks_and_eval_limits():
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        APPROACHES.validate_python({"f": {"kind": "feature", "trainable_blocks": -1}})
    with pytest.raises(ValidationError, match="ngram_range must be"):
        CausalEvalParams(retrieval={"ngram_range": [2, 1]})
    assert APPROACHES.validate_python({"f": {"kind": "feature", "learning_rate": "1e-4"}})["f"].learning_rate == 1e-4
