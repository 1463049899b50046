"""The retrieval baseline answers with the nearest train prompt's reference."""

from __future__ import annotations

import pytest

from schemas.causal import RetrievalBaseline
from stages.lib.model.causal.retrieval import retrieval_answers

TRAIN_PROMPTS = [
    "what colour is the sky",
    "what colour is the grass",
    "how tall is the tower",
    "same text",
    "same text",
]
TRAIN_ANSWERS = ["blue", "green", "300 metres", "first", "second"]


def answers(prompts, **extra):
    return retrieval_answers(TRAIN_PROMPTS, TRAIN_ANSWERS, prompts, **RetrievalBaseline().model_dump(), **extra)


def test_the_nearest_train_prompt_answers():
    got = answers(["What colour is the SKY?", "the grass colour", "tower height: how tall"])
    assert [g["generation"] for g in got] == ["blue", "green", "300 metres"]
    assert got[0]["similarity"] == pytest.approx(1.0)
    assert all(g["stopped"] for g in got)


def test_ties_go_to_the_first_train_row_and_unknown_words_to_row_zero():
    tie, unknown = answers(["same text", "zzz qqq"])
    assert tie["generation"] == "first" and tie["train_index"] == 3
    assert unknown["train_index"] == 0 and unknown["similarity"] == 0.0


def test_generated_tokens_count_words_or_the_tokenizers_tokens(tokenizer):
    (words,) = answers(["how tall is the tower"])
    assert words["generated_tokens"] == 2
    (tokens,) = answers(["how tall is the tower"], tokenizer=tokenizer)
    assert tokens["generated_tokens"] == len(tokenizer("300 metres", add_special_tokens=False)["input_ids"])


def test_settings_reach_the_builder_by_their_schema_names():
    import inspect

    params = inspect.signature(retrieval_answers).parameters
    assert set(RetrievalBaseline.model_fields) <= set(params)
    assert all(params[name].default is inspect.Parameter.empty for name in RetrievalBaseline.model_fields)


def test_mismatched_train_lists_fail():
    with pytest.raises(ValueError, match="5 train prompts but 1 answers"):
        retrieval_answers(TRAIN_PROMPTS, ["x"], ["q"], **RetrievalBaseline().model_dump())
