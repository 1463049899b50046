"""The clean section of params.yaml: defaults, the committed file, and every cross-field check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from schemas import ParamsError, load_params, validate_params
from schemas.clean import CleanParams

ROOT = Path(__file__).resolve().parents[2]


def _params(clean: dict) -> dict:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["clean"] = clean
    return raw


def test_defaults_validate_and_match_documented_choices():
    cfg = CleanParams()
    assert cfg.pii.url.enabled is False  # URLs are spam signal
    assert cfg.pii.email.enabled and cfg.pii.credit_card.enabled
    assert cfg.near_dup.verify and cfg.num_proc == 2


def _keys(model: type[BaseModel], data: dict, prefix: str = "") -> list[str]:
    """Dotted names of model fields missing from `data`, recursively."""
    missing = []
    for name, field in model.model_fields.items():
        if name not in data:
            missing.append(prefix + name)
            continue
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and isinstance(data[name], dict):
            missing += _keys(sub, data[name], f"{prefix}{name}.")
    return missing


def test_params_yaml_writes_every_clean_field():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert _keys(CleanParams, raw["clean"]) == []
    assert load_params(ROOT / "params.yaml").clean.near_dup.threshold == 0.8


@pytest.mark.parametrize(
    ("clean", "message"),
    [
        ({"near_dup": {"bands": 4}}, r"clean\.near_dup: give both `bands` and `rows`"),
        ({"near_dup": {"bands": 20, "rows": 10, "verify": False}}, r"bands \* rows = 200 exceeds num_perm = 128"),
        ({"near_dup": {"threshold": None, "bands": 8, "rows": 4}}, r"`verify: true` compares true Jaccard"),
        ({"near_dup": {"threshold": None, "verify": False}}, r"set `threshold`"),
        ({"near_dup": {"threshold": 1.5}}, r"clean\.near_dup\.threshold: .*less than 1"),
        ({"filters": {"min_chars": 10, "max_chars": 5}}, r"min_chars \(10\) must be <= max_chars \(5\)"),
        ({"filters": {"min_words": 3, "max_words": 2}}, r"min_words \(3\) must be <= max_words \(2\)"),
        ({"filters": {"deny_patterns": ["(unclosed"]}}, r"'\(unclosed' is not a valid regular expression"),
        ({"filters": {"languages": []}}, r"use null to switch it off"),
        ({"filters": {"max_top_ngram_fraction": {2: 1.5}}}, r"fractions in \[0, 1\]"),
        ({"near_dup": {"unit": "byte"}}, r"clean\.near_dup\.unit: Input should be 'char' or 'word'"),
        ({"on_label_conflict": "vote"}, r"clean\.on_label_conflict: Input should be 'majority', 'drop' or 'keep'"),
        ({"nearr_dup": {}}, r"clean\.nearr_dup: unknown key; did you mean 'near_dup'\?"),
        ({"num_proc": 0}, r"clean\.num_proc: Input should be greater than or equal to 1"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(clean, message):
    with pytest.raises(ParamsError, match=message):
        validate_params(_params(clean))


def test_bands_and_rows_replace_threshold_when_verification_is_off():
    cfg = validate_params(_params({"near_dup": {"threshold": None, "bands": 16, "rows": 8, "verify": False}})).clean
    assert (cfg.near_dup.bands, cfg.near_dup.rows) == (16, 8)
