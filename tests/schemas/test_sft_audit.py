"""The SFT audit's params: the committed section is valid, and each mistake names its key and the fix."""

from __future__ import annotations

import copy

import pytest
import yaml

from schemas import ParamsError, validate_params
from schemas.sft_audit import DEFAULT_BOILERPLATE, SftAuditParams

from ..conftest import REPO

SFT = yaml.safe_load((REPO / "sft" / "params.yaml").read_text())


def with_audit(**changes) -> dict:
    out = copy.deepcopy(SFT)
    out["audit"] |= changes
    return out


def test_committed_audit_section_is_the_default():
    assert validate_params(SFT).audit == SftAuditParams()
    assert SFT["audit"]["boilerplate"]["patterns"] == DEFAULT_BOILERPLATE


def test_audit_approach_must_be_an_entry_of_approaches():
    with pytest.raises(ParamsError, match=r"audit\.approach: lora is not an entry of approaches"):
        validate_params(with_audit(approach="lora"))


def test_a_bad_boilerplate_regex_is_named():
    bad = with_audit(boilerplate=SFT["audit"]["boilerplate"] | {"patterns": ["as an ai (model"]})
    with pytest.raises(ParamsError, match=r"audit\.boilerplate\.patterns.*not a valid regular expression"):
        validate_params(bad)


@pytest.mark.parametrize("splits", [["test"], [], ["train", "train"]])
def test_only_train_and_validation_are_audited(splits):
    with pytest.raises(ParamsError, match=r"audit\.splits"):
        validate_params(with_audit(splits=splits))


def test_loss_outlier_k_must_be_positive():
    with pytest.raises(ParamsError, match=r"audit\.loss_outlier\.k"):
        validate_params(with_audit(loss_outlier=SFT["audit"]["loss_outlier"] | {"k": 0}))
