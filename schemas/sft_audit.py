"""Params of the SFT pipeline's audit stage (`task: sft`): which conversations look wrong, and how many.

Every kind of issue has its own section; the near-duplicate prompts are found with clean's
`clean.prompt_near_dup` settings (one definition of a near-duplicate prompt), so only the answer side is set here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from schemas.base import StrictModel

SFT_ISSUE_KINDS = ("loss_outlier", "conflicting_answer", "truncated", "empty_answer", "boilerplate")

# Refusals and self-references that a scraped or model-generated answer set often carries; matched
# case-insensitively anywhere in an assistant turn.
DEFAULT_BOILERPLATE = [
    r"\bas an ai(?: language)? model\b",
    r"\bas a large language model\b",
    r"\bi(?:'m| am) (?:just )?an ai\b",
    r"\bi (?:cannot|can't|can not) (?:help|assist) with (?:that|this)\b",
    r"\bi(?:'m| am) sorry,? but i (?:cannot|can't)\b",
]


class LossOutlierParams(StrictModel):
    """Rows the trained model fits far worse than the rest of their source."""

    k: float = Field(
        3.5,
        gt=0,
        le=100,
        description="A row is an outlier when its mean trained-token loss exceeds the median of its source (and "
        "split) by more than k robust standard deviations (1.4826 x MAD; Iglewicz and Hoaglin's 3.5 by default).",
    )
    min_rows: int = Field(
        10,
        ge=3,
        le=1_000_000,
        description="Sources (per split) with fewer rendered rows are not scored: a median of a handful is noise.",
    )
    batch_size: int = Field(16, ge=1, le=4096, description="Rows per forward pass when scoring the losses.")


class ConflictParams(StrictModel):
    """Near-duplicate prompts (clean.prompt_near_dup) whose answers differ."""

    answer_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Two answers to near-duplicate prompts conflict when the Jaccard similarity of their shingles "
        "(clean.prompt_near_dup's unit, ngram and lowercase) is below this.",
    )


class TruncatedParams(StrictModel):
    """Conversations that render's length policy (render.max_length, render.truncation) cut or dropped."""

    prompt_cut: bool = Field(
        True,
        description="Also flag rows whose answer is whole but whose prompt lost tokens (render.truncation: left): "
        "the model is then trained to answer a question it did not fully see.",
    )


class BoilerplateParams(StrictModel):
    """Answers that carry no task signal: known boilerplate, or one text repeated across many prompts."""

    patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BOILERPLATE),
        description="Regular expressions (Python `re`, case-insensitive) searched in every assistant turn.",
    )
    repeated_min_prompts: int = Field(
        5,
        ge=2,
        le=1_000_000,
        description="An answer given verbatim (after whitespace normalisation, case-insensitive) to at least this "
        "many different prompts is boilerplate.",
    )
    repeated_min_words: int = Field(
        4,
        ge=1,
        le=10_000,
        description="Only answers of at least this many words count as repeated: a label-like answer ('spam', "
        "'yes') is legitimately shared by many prompts.",
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression ({exc}); fix or remove it") from None
        return value


class SftAuditParams(StrictModel):
    """The SFT audit: every decontaminated train and validation conversation, checked for five kinds of issue."""

    approach: str = Field(
        "full",
        description="The entry of `approaches` whose trained model scores the per-row losses (train@<it> first).",
    )
    splits: list[Literal["train", "validation"]] = Field(
        default_factory=lambda: ["train", "validation"],
        description="Splits audited. Never test: editing test rows with a model's help is choosing the test set.",
    )
    confidence: float = Field(
        0.95, gt=0, lt=1, description="Level of the Wilson interval of problem_share (in the details file)."
    )
    loss_outlier: LossOutlierParams = Field(
        default_factory=LossOutlierParams, description="loss_outlier: rows the trained model fits far worse."
    )
    conflicting_answer: ConflictParams = Field(
        default_factory=ConflictParams, description="conflicting_answer: near-duplicate prompts, different answers."
    )
    truncated: TruncatedParams = Field(
        default_factory=TruncatedParams, description="truncated: rows render's length policy cut or dropped."
    )
    boilerplate: BoilerplateParams = Field(
        default_factory=BoilerplateParams, description="boilerplate (and empty_answer): answers without signal."
    )

    @field_validator("splits")
    @classmethod
    def _some_split(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError("list train and/or validation, each once")
        return value
