"""Answer scores on known cases."""

from __future__ import annotations

import pytest

from stages.lib.model.causal.scoring import exact_match, lcs_length, normalize, rouge_l, score, token_f1


def test_normalize_follows_squad():
    assert normalize("  The Cat, sat!  ") == "cat sat"
    assert normalize("Ｈｅｌｌｏ") == "hello"  # full-width folded by NFKC


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("Paris", "paris.", 1.0),
        ("The sea is blue.", "sea is blue", 1.0),
        ("Paris, France", "Paris", 0.0),
        ("", "", 1.0),
    ],
)
def test_exact_match(prediction, reference, expected):
    assert exact_match(prediction, reference) == expected


def test_token_f1_known_cases():
    assert token_f1("the cat sat", "cat sat") == 1.0
    # prediction {cat, sat, down}, reference {cat, sat}: P 2/3, R 1 -> F1 0.8
    assert token_f1("cat sat down", "cat sat") == pytest.approx(0.8)
    # repeated words count as a multiset: P 1/2, R 1 -> 2/3
    assert token_f1("yes yes", "yes") == pytest.approx(2 / 3)
    assert token_f1("dog", "cat") == 0.0
    assert token_f1("", "cat") == 0.0
    assert token_f1("", "") == 1.0


def test_lcs_and_rouge_l_known_cases():
    assert lcs_length(list("abcbdab"), list("bdcaba")) == 4  # the textbook example
    # "police killed the gunman" vs "police kill the gunman": LCS police the gunman = 3; P = R = 3/4
    assert rouge_l("police kill the gunman", "police killed the gunman") == pytest.approx(0.75)
    # order matters for ROUGE-L but not for token F1
    assert rouge_l("gunman the killed police", "police killed the gunman") == pytest.approx(0.25)
    assert token_f1("gunman the killed police", "police killed the gunman") == 1.0
    assert rouge_l("", "x") == 0.0 and rouge_l("", "") == 1.0
    assert rouge_l("Hello, World!", "hello world") == 1.0


def test_score_returns_the_three():
    assert score("The sky is blue.", "the sky is blue") == {"exact_match": 1.0, "token_f1": 1.0, "rouge_l": 1.0}
