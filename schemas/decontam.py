"""Params of the decontaminate stage: train conversations against validation/test and benchmark files."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import StrictModel
from schemas.chat import Role
from schemas.clean import NearDupParams


class Benchmark(StrictModel):
    """An evaluation set the model must not have seen in training (for example a copy of a public eval set)."""

    path: str = Field(description="JSONL or text file relative to the pipeline folder (sft/).")
    format: Literal["jsonl", "text"] = Field(description="`jsonl` (fields below) or `text` (one item per line).")
    fields: list[str] = Field(
        default_factory=lambda: ["question", "answer"],
        description="jsonl: the string fields of a record joined (space) into the text checked; missing ones skip.",
    )


def _near_default() -> NearDupParams:
    # Word 3-grams at 0.5: an evaluation item with two words edited in 30 (no 13 words in a row left) keeps
    # Jaccard ~0.65 and is found 95% of the time; unrelated prose stays far below (docs/sft.md).
    return NearDupParams(unit="word", ngram=3, threshold=0.5)


class DecontamParams(StrictModel):
    """Drop training conversations that overlap evaluation text (`contaminated` rejects with the matched n-gram)."""

    ngram: int = Field(
        13,
        ge=8,
        le=13,
        description="Word n-gram length: a train conversation sharing any n-gram with an evaluation text is "
        "contaminated (8-13, as NeMo Curator and datatrove use; 13 is GPT-3's choice).",
    )
    min_words: int = Field(
        4,
        ge=1,
        description="Evaluation texts shorter than `ngram` words match as their whole word sequence, when at least "
        "this long; shorter ones are only counted (`eval_too_short`).",
    )
    roles: list[Role] = Field(
        default_factory=lambda: ["user", "assistant"],
        description="Turns of a training conversation whose contents are checked (and validation/test ones indexed).",
    )
    against_splits: list[Literal["validation", "test"]] = Field(
        default_factory=lambda: ["validation", "test"],
        description="Splits whose conversations train is checked against.",
    )
    benchmarks: dict[str, Benchmark] = Field(
        default_factory=dict, description="Benchmark files by name; each is reported with the rows it removed."
    )
    near: NearDupParams = Field(
        default_factory=_near_default,
        description="MinHash near matches on top of n-grams (Jaccard of shingles >= threshold, verified exactly); "
        "`enabled: false` for n-grams only.",
    )
