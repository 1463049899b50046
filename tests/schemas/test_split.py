"""split params: fractions sum to 1, method-specific fields, ranges."""

from __future__ import annotations

import pytest

from schemas import ParamsError, validate_params

INGEST = {"sources": {"s": {"path": "data/raw/x.csv", "format": "csv"}}}


def split(**kw) -> dict:
    return {"ingest": INGEST, "split": kw}


def test_defaults():
    p = validate_params({"ingest": INGEST}).split
    assert (p.fractions.train, p.fractions.validation, p.fractions.test) == (0.8, 0.1, 0.1)
    assert p.group_by == "dup_cluster" and p.stratify and p.on_leakage == "drop_from_test"


def test_fractions_must_sum_to_one():
    with pytest.raises(
        ParamsError,
        match=r"split.fractions: train \+ validation \+ test must sum to 1; they sum to "
        r"1.1 \(0.8 \+ 0.2 \+ 0.1\)",
    ):
        validate_params(split(fractions={"train": 0.8, "validation": 0.2, "test": 0.1}))
    ok = validate_params(split(fractions={"train": 0.7, "validation": 0.15, "test": 0.15}))
    assert ok.split.fractions.test == 0.15


def test_train_fraction_must_be_positive():
    with pytest.raises(ParamsError, match=r"split.fractions.train: Input should be greater than 0"):
        validate_params(split(fractions={"train": 0, "validation": 0.5, "test": 0.5}))


def test_method_fields():
    with pytest.raises(ParamsError, match="method: column needs `column`"):
        validate_params(split(method="column"))
    with pytest.raises(ParamsError, match="method: time needs `time_column`"):
        validate_params(split(method="time"))
    with pytest.raises(ParamsError, match="`column` only applies to method: column"):
        validate_params(split(column="origin"))
    assert validate_params(split(method="time", time_column="date")).split.time_column == "date"


def test_leakage_settings():
    with pytest.raises(ParamsError, match=r"split.on_leakage: Input should be 'fail', 'drop_from_test' or 'warn'"):
        validate_params(split(on_leakage="ignore"))
    with pytest.raises(ParamsError, match=r"split.near_threshold: Input should be less than or equal to 1"):
        validate_params(split(near_threshold=1.5))
    assert validate_params(split(near_threshold=None)).split.near_threshold is None
