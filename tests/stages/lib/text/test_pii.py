"""Phone masking by the numbering plan (phonenumbers), beside the regex kinds."""

from __future__ import annotations

import pytest

from stages.lib.text.pii import mask

TOKENS = {"email": "<EMAIL>", "ip": "<IP>", "credit_card": "<CREDIT_CARD>", "phone": "<PHONE>"}


@pytest.mark.parametrize(
    "text",
    ["Win 1000000 dollars", "2025-01-18 10:30", "txt 87066 to win", "cost 150p/msg", "ID 12345678 ref 2024-12"],
)
def test_numbers_that_are_not_phones_stay_intact(text):
    assert mask(text, TOKENS, "GB") == (text, {"email": 0, "ip": 0, "credit_card": 0, "phone": 0})


@pytest.mark.parametrize(
    ("text", "region", "masked"),
    [
        ("Call 09061701461 now", "GB", "Call <PHONE> now"),
        ("ring 0800 169 6031 free", "GB", "ring <PHONE> free"),
        ("mob 07732584351 or +44 7911 123456", "GB", "mob <PHONE> or <PHONE>"),
        ("office +1 415-555-2671", None, "office <PHONE>"),
        ("Call 09061701461 now", None, "Call 09061701461 now"),  # national number without a region: unknown
        ("call (415) 555-2671", "US", "call <PHONE>"),
    ],
)
def test_real_numbers_are_masked(text, region, masked):
    out, counts = mask(text, TOKENS, region)
    assert out == masked and counts["phone"] == masked.count("<PHONE>")


def test_card_numbers_go_before_phones():
    out, counts = mask("card 4111 1111 1111 1111, tel +44 7911 123456", TOKENS, "GB")
    assert out == "card <CREDIT_CARD>, tel <PHONE>" and counts["credit_card"] == counts["phone"] == 1
