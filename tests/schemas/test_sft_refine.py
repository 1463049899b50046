"""The SFT refine loop's params (schemas/sft_refine.py): review and label sections of sft/params.yaml."""

from __future__ import annotations

import copy

import pytest
import yaml

from schemas import ParamsError, validate_params

from ..conftest import REPO

SFT = yaml.safe_load((REPO / "sft" / "params.yaml").read_text())


def test_review_approach_must_be_a_trained_approach():
    bad = copy.deepcopy(SFT)
    bad["review"]["approach"] = "lora"
    with pytest.raises(ParamsError, match=r"review\.approach: lora is not a key of approaches \(full, adapter"):
        validate_params(bad)


def test_ratings_and_budgets_are_bounded_and_kinds_are_the_audits():
    bad = copy.deepcopy(SFT)
    bad["label"]["min_rating"] = 0
    bad["review"]["rating_scale"] = 1
    bad["review"]["issues"]["kinds"] = ["label_issue"]
    with pytest.raises(ParamsError) as err:
        validate_params(bad)
    text = str(err.value)
    assert "label.min_rating" in text and "review.rating_scale" in text and "review.issues.kinds" in text


def test_min_rating_null_keeps_every_rating_as_information():
    ok = copy.deepcopy(SFT)
    ok["label"]["min_rating"] = None
    assert validate_params(ok).label.min_rating is None
