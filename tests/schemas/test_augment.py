"""augment params and the text operations schema (schemas/augment.py, schemas/textops.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import ParamsError, load_params, validate_params

INGEST = {"sources": {"s": {"path": "data/raw/x.csv", "format": "csv"}}}


def check(augment: dict) -> None:
    validate_params({"ingest": INGEST, "augment": augment})


def test_committed_params_validate_and_write_every_augment_field() -> None:
    params = load_params("params.yaml")
    assert params.augment.operations and params.augment.minority_multiplier == 1.0 and params.augment.per_class == {}
    import yaml

    written = yaml.safe_load(Path("params.yaml").read_text())["augment"]
    assert set(written) == set(type(params.augment).model_fields)
    for op, model in zip(written["operations"], params.augment.operations):
        assert set(op) == set(type(model).model_fields)


def test_defaults_validate() -> None:
    check({})
    check(
        {
            "operations": [
                {"kind": "eda"},
                {"kind": "char_noise"},
                {"kind": "mlm", "model": "models/base"},
                {"kind": "paraphrase", "model": "m", "back_model": "b"},
            ]
        }
    )


@pytest.mark.parametrize(
    ("augment", "message"),
    [
        ({"operations": [{"kind": "eda", "alpha_sr": 0, "alpha_ri": 0, "alpha_rs": 0, "p_rd": 0}]},
         r"augment.operations\[0\].eda: alpha_sr, alpha_ri, alpha_rs and p_rd are all 0"),
        ({"operations": [{"kind": "eda", "alpha_sr": 1.5}]},
         r"augment.operations\[0\].eda.alpha_sr: Input should be less than or equal to 1"),
        ({"operations": [{"kind": "char_noise"}, {"kind": "char_noise"}]},
         r"operation names must be unique; repeated: \['char_noise'\]. Give one of them a `name`"),
        ({"operations": [{"kind": "char_noise", "actions": ["typo", "typo"]}]}, r"actions repeat an entry"),
        ({"operations": [{"kind": "char_noise", "actions": ["shout"]}]},
         r"augment.operations\[0\].char_noise.actions\[0\]: Input should be 'typo', 'swap' or 'delete'"),
        ({"operations": [{"kind": "paraphrase", "model": "m", "prompt": "paraphrase:"}]},
         r"prompt must contain '\{text\}'"),
        ({"operations": [{"kind": "mlm"}]}, r"augment.operations\[0\].mlm.model: required key is missing"),
        ({"operations": [{"kind": "synonyms"}]}, r"augment.operations\[0\]: Input tag 'synonyms' found using 'kind'"),
        ({"per_class": {"spam": -1.0}}, r"per_class multipliers must be between 0 and 100"),
        ({"max_row": 5}, r"augment.max_row: unknown key; did you mean 'max_rows'\?"),
    ],
)  # fmt: skip
def test_bad_augment_params_name_the_key_and_the_fix(augment: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        check(augment)
