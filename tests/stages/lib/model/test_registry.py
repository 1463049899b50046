"""One registration per approach kind: the params model names its module, and everything derives from it."""

from __future__ import annotations

import inspect

from schemas.approaches import KINDS as PARAMS_MODELS
from schemas.approaches import REGISTERED, default_approaches, kind_of
from stages.lib.model.approaches import FUNCTIONS, KINDS


def test_every_registered_kind_has_a_module_with_the_same_functions():
    assert list(PARAMS_MODELS) == [kind_of(m) for m in REGISTERED]
    assert list(KINDS) == list(PARAMS_MODELS)
    for kind, module in KINDS.items():
        assert module.__name__ == PARAMS_MODELS[kind].module
        missing = [f for f in FUNCTIONS if not inspect.isfunction(getattr(module, f, None))]
        assert not missing, f"{module.__name__} lacks {missing}"


def test_defaults_and_validation_follow_the_registration():
    assert {name: a.kind for name, a in default_approaches().items()} == {k: k for k in PARAMS_MODELS}
    for kind, model in PARAMS_MODELS.items():
        assert model.model_validate({"kind": kind}).kind == kind


def test_the_prompt_learning_adapter_reserves_its_virtual_tokens():
    lora = PARAMS_MODELS["adapter"].model_validate({"kind": "adapter"})
    prompt = PARAMS_MODELS["adapter"].model_validate(
        {"kind": "adapter", "peft": {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4}}
    )
    assert KINDS["adapter"].reserved_positions(lora) == 0
    assert KINDS["adapter"].reserved_positions(prompt) == 4
    assert KINDS["full"].reserved_positions(PARAMS_MODELS["full"].model_validate({"kind": "full"})) == 0
