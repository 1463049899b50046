"""One definition of a near duplicate: split's exact check and clean's verification give the same Jaccard."""

from __future__ import annotations

import numpy as np
import pytest

from stages.lib.text import near_dup

TEXTS = [
    "URGENT! You have won a 1 week FREE membership in our prize Jackpot! Txt CLAIM to 81010",
    "URGENT! You have won a 1 week FREE membership in our prize Jackpot! Txt CLAIM to 81011",
    "urgent! you have won a 2 week free membership in our prize jackpot! txt WIN to 81010",
    "Are we still meeting for lunch tomorrow?",
    "are we still meeting for lunch tomorrow",
    "Ok lar... Joking wif u oni...",
    "ok",
    "",
]


@pytest.mark.parametrize(("ngram", "unit"), [(5, "char"), (3, "word"), (1, "word")])
def test_split_pairs_have_exactly_clean_s_verified_jaccard(ngram, unit):
    pairs = near_dup.near_duplicate_pairs(TEXTS, TEXTS, 0.0, ngram, unit)
    assert len(pairs) >= len(TEXTS)  # every text shares its shingles with itself
    index = np.array([[i, len(TEXTS) + j] for i, j, _ in pairs])
    verified = near_dup.jaccard_pairs(TEXTS + TEXTS, index, ngram, unit)
    by_sets = [near_dup.jaccard(*(near_dup.shingle_set(TEXTS[k], ngram, unit) for k in (i, j))) for i, j, _ in pairs]
    scores = [s for *_, s in pairs]
    assert scores == pytest.approx(verified.tolist()) and scores == pytest.approx(by_sets)


def test_threshold_and_one_shingle_texts():
    pairs = near_dup.near_duplicate_pairs(TEXTS[:3], TEXTS[3:], 0.8)
    assert pairs == []  # spam templates are not near copies of the chat messages
    pairs = near_dup.near_duplicate_pairs([TEXTS[0]], [TEXTS[1], TEXTS[2]], 0.8)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0)]  # one changed digit: a near copy; a rewrite is not
    assert near_dup.near_duplicate_pairs(["ok"], ["OK"], 1.0) == [(0, 0, 1.0)]  # shorter than a shingle
    assert near_dup.near_duplicate_pairs([], TEXTS, 0.5) == []
