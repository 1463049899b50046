"""Word n-gram and MinHash decontamination: what is caught, what is named, what is left alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.decontam import DecontamParams
from stages.lib.decontam.matches import find_contaminated
from stages.lib.decontam.ngrams import NgramIndex, ngram_hashes, words

NEAR = DecontamParams().near.model_dump()
EVAL = "The mitochondrion is the membrane bound organelle that produces most of the chemical energy of the cell"
TRAIN = [
    "Question: explain biology. Answer: the mitochondrion is the membrane-bound organelle that produces most of "
    "the chemical energy, they say.",  # 13 shared words in a row, punctuation and case aside
    "A cat sat on a mat and looked at the birds outside the window for most of the afternoon.",
    "Tell me about the weather in spring, when the rain is warm and the flowers begin to open slowly.",
]


def test_a_shared_13_gram_is_caught_and_named():
    found, stats = find_contaminated(TRAIN, {"test": [EVAL]}, ngram=13, min_words=4, near={**NEAR, "enabled": False})
    assert found[0] is not None and found[0].origin == "test" and found[0].kind == "ngram"
    assert found[0].detail == "the mitochondrion is the membrane bound organelle that produces most of the chemical"
    assert found[1] is None and found[2] is None
    assert stats["indexed"] == {"test": 1}


def test_shorter_overlap_than_n_is_not_contamination():
    train = ["the membrane bound organelle that produces most energy is small"]
    found, _ = find_contaminated(train, {"test": [EVAL]}, ngram=13, min_words=4, near={**NEAR, "enabled": False})
    assert found == [None]


def test_short_evaluation_items_match_as_a_whole():
    found, stats = find_contaminated(
        ["So, what is the capital of France? Paris."],
        {"benchmark:quiz": ["What is the capital of France?", "Why?"]},
        ngram=13,
        min_words=4,
        near={**NEAR, "enabled": False},
    )
    assert found[0] is not None and found[0].detail == "what is the capital of france"
    assert stats["too_short"] == {"benchmark:quiz": 1}


def test_near_matches_catch_a_lightly_edited_copy():
    eval_text = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    edited = "alpha bravo charlie delta echo foxtrot golf hotel india kilo"  # below 13 words: no n-gram
    found, _ = find_contaminated([edited, TRAIN[1]], {"validation": [eval_text]}, ngram=13, min_words=11, near=NEAR)
    assert found[0] is not None and found[0].kind == "near" and found[0].origin == "validation"
    assert "similarity" in found[0].detail
    assert found[1] is None


def test_first_origin_wins_a_shared_ngram_and_counts_stay_per_origin():
    found, _ = find_contaminated(TRAIN[:1], {"validation": [EVAL], "benchmark:bio": [EVAL]}, ngram=8, min_words=4,
                                 near={**NEAR, "enabled": False})  # fmt: skip
    assert found[0].origin == "validation"


def test_ngram_hashes_stay_inside_each_text():
    a, b = words("one two three"), words("four five six")
    hashes, owner, position = ngram_hashes([a, b], 2)
    assert owner.tolist() == [0, 0, 1, 1] and position.tolist() == [0, 1, 0, 1]
    joined, _, _ = ngram_hashes([a + b], 2)
    assert len(set(joined.tolist()) - set(hashes.tolist())) == 1  # only "three four" is new


def test_index_is_deterministic():
    one, two = NgramIndex(8, 4), NgramIndex(8, 4)
    for index in (one, two):
        index.add("test", [EVAL])
    assert one.lookup(TRAIN) == two.lookup(TRAIN)


@pytest.mark.parametrize("n", [7, 14])
def test_ngram_length_outside_8_to_13_is_refused(n):
    with pytest.raises(ValidationError, match="ngram"):
        DecontamParams(ngram=n)
