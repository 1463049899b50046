"""The model, train, approaches and compare sections: defaults, PEFT validation by dotted path, fixes in messages."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas import ParamsError, load_params, validate_params
from schemas.approaches import AdapterApproach, FeatureApproach

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def params() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((REPO / "params.yaml").read_text()))


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ParamsError) as info:
        validate_params(data)
    return info.value.problems


def test_committed_params_hold_the_three_approaches():
    params = load_params(REPO / "params.yaml")
    assert {name: a.kind for name, a in params.approaches.items()} == {
        "feature": "feature",
        "full": "full",
        "adapter": "adapter",
    }
    # the demo's real encoder, pinned by checksum (unpacked by scripts/setup_models.sh)
    assert params.model.source == "pretrained"
    assert params.model.sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_committed_params_write_every_field_out(params):
    """The committed file is the full resolved config: validating it adds no field it does not name."""

    def keys(value: Any, prefix: str = "") -> set[str]:
        if isinstance(value, dict):
            return {k for name, v in value.items() for k in keys(v, f"{prefix}{name}.")} | {prefix}
        return {prefix}

    validated = validate_params(params).model_dump(mode="json")
    for section in ("model", "train", "approaches", "compare"):
        assert keys(validated[section]) == keys(params[section]), section


def test_peft_value_error_is_reported_at_its_dotted_path(params):
    params["approaches"]["adapter"]["peft"]["r"] = 0
    assert any(p.startswith("approaches.adapter.peft.r: must be >= 1") for p in problems(params))


def test_peft_type_error_comes_from_the_peft_config_annotation(params):
    params["approaches"]["adapter"]["peft"]["r"] = "eight"
    (problem,) = problems(params)
    assert problem.startswith("approaches.adapter.peft.r: expected int")


def test_peft_unknown_option_names_the_closest_one(params):
    params["approaches"]["adapter"]["peft"]["lora_alhpa"] = 32
    (problem,) = problems(params)
    assert "approaches.adapter.peft.lora_alhpa: not an option of peft.LoraConfig; did you mean 'lora_alpha'?" in problem


def test_peft_rejections_by_peft_itself_are_surfaced(params):
    # LoraConfig's own __post_init__ refuses layers_to_transform with a regex target_modules
    params["approaches"]["adapter"]["peft"] |= {"target_modules": ".*query", "layers_to_transform": [0]}
    (problem,) = problems(params)
    assert problem.startswith("approaches.adapter.peft: peft.LoraConfig rejects the combination")


def test_every_problem_is_listed_at_once(params):
    params["approaches"]["adapter"]["peft"] |= {"r": 0, "bogus": 1}
    params["approaches"]["feature"]["trainable_layers"] = 1
    params["approaches"]["x"] = {"kind": "lora"}
    found = problems(params)
    assert len(found) == 4
    assert any(p.startswith("approaches.x.kind: must be one of feature, full, adapter") for p in found)
    assert any("set trainable_layers: 0 or cache_embeddings: false" in p for p in found)


@pytest.mark.parametrize(
    "block",
    [
        {"peft_type": "IA3"},
        {"peft_type": "loha", "r": 4, "target_modules": ["query", "value"]},
        {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4},
        {"peft_type": "PREFIX_TUNING", "num_virtual_tokens": 4},
    ],
)
def test_other_peft_methods_validate(params, block):
    params["approaches"]["other"] = {"kind": "adapter", "peft": block}
    assert isinstance(validate_params(params).approaches["other"], AdapterApproach)


def test_unknown_peft_type_lists_the_methods(params):
    params["approaches"]["adapter"]["peft"]["peft_type"] = "LORRA"
    (problem,) = problems(params)
    assert problem.startswith("approaches.adapter.peft.peft_type: must name a PEFT method:") and "LORA" in problem


def test_task_type_is_refinerys_choice(params):
    params["approaches"]["adapter"]["peft"]["task_type"] = "SEQ_CLS"
    assert "Refinery sets task_type itself" in problems(params)[0]


def test_merge_with_prompt_tuning_is_refused(params):
    params["approaches"]["adapter"] |= {"peft": {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4}, "merge": True}
    assert "merge: true is impossible with PROMPT_TUNING" in problems(params)[0]


def test_learning_rate_written_by_dvc_exp_loads_as_float(params):
    params["approaches"]["full"]["learning_rate"] = "3e-05"  # how PyYAML reads `dvc exp run -S` output
    assert validate_params(params).approaches["full"].learning_rate == pytest.approx(3e-5)


def test_mlp_head_needs_hidden_sizes(params):
    params["approaches"]["full"]["head"] = {"type": "mlp", "hidden_sizes": [], "dropout": 0.1}
    assert "head.type 'mlp' needs hidden_sizes" in problems(params)[0]


def test_feature_defaults_to_mean_pooling_and_cache():
    approach = FeatureApproach(kind="feature")
    assert (approach.pooling, approach.cache_embeddings, approach.trainable_layers) == ("mean", True, 0)


def test_save_steps_must_be_a_multiple_of_eval_steps(params):
    params["train"] |= {"eval_steps": 20, "save_steps": 30}
    assert "must be a multiple of train.eval_steps" in problems(params)[0]


def test_pretrained_source_needs_a_name(params):
    params["model"] |= {"source": "pretrained", "name_or_path": None}
    assert "set model.name_or_path" in problems(params)[0]


def test_heads_must_divide_hidden_size(params):
    params["model"]["scratch"] |= {"hidden_size": 30, "num_heads": 4}
    assert "must divide hidden_size" in problems(params)[0]


def test_gate_needs_a_minimum(params):
    params["compare"]["gate"] = {"metric": "macro_f1"}
    assert problems(params)[0] == "compare.gate.minimum: required key is missing"


def test_approach_names_must_not_clash_with_the_base_model(params):
    params["approaches"]["base"] = {"kind": "full"}
    assert "'base' is the base model's folder" in problems(params)[0]
    params["approaches"] = {}
    assert "name at least one approach" in problems(params)[0]
    params["approaches"] = {"my lora": {"kind": "full"}}
    assert problems(params)[0].startswith("approaches.my lora: String should match pattern")
