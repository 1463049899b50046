"""Params of the SFT refine loop: review (conversations and draft answers to annotators) and label (their
corrections back into the rows). The sections of sft/params.yaml that `schemas/sft.py` names `review`, `label`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import StrictModel
from schemas.paths import ReviewPaths

SftIssueKind = Literal["loss_outlier", "conflicting_answer", "truncated", "empty_answer", "boilerplate"]
SftExportFormat = Literal["label_studio", "argilla", "csv"]


class SftReviewPaths(ReviewPaths):
    # the `issues` queue reads paths.audit.issues, and the conversations its ids name from paths.split.dir
    pool: str = Field(
        "data/pool",
        description="Folder of unanswered prompts for the `active` queue (`.txt`: one prompt per line; `.parquet`/"
        "`.jsonl`: rows with `messages` or `prompt`), read with the split folder's unlabeled.parquet. The stage "
        "depends on it.",
    )


class SftIssueQueue(StrictModel):
    """The audit's worst conversations, per kind."""

    per_kind: int = Field(
        20, ge=0, le=1_000_000, description="Conversations sent per issue kind, highest score first (at most 1M)."
    )
    kinds: list[SftIssueKind] = Field(
        default_factory=lambda: ["empty_answer", "truncated", "conflicting_answer", "loss_outlier", "boilerplate"],
        description="Issue kinds sent, in this order; a conversation flagged under two kinds is sent once, under "
        "the first.",
    )


class SftActiveQueue(StrictModel):
    """Active learning: unanswered prompts with the model's draft answer, the least confident first."""

    budget: int = Field(
        20, ge=0, le=1_000_000, description="Prompts sent (at most 1M); 0 disables the queue (no model is loaded)."
    )
    max_pool: int = Field(
        500,
        ge=1,
        le=1_000_000,
        description="Most pool prompts drafted (the first by id): every one is generated greedily, so this bounds "
        "the stage's time.",
    )


class SftReviewParams(StrictModel):
    """Two queues of conversations for annotators, each with an answer to rate and edit."""

    approach: str = Field(
        "full",
        description="The trained approach (a key of `approaches`) whose greedy answers are the active queue's drafts.",
    )
    issues: SftIssueQueue = Field(default_factory=SftIssueQueue, description="Queue `issues`: audit findings.")
    active: SftActiveQueue = Field(default_factory=SftActiveQueue, description="Queue `active`: unanswered prompts.")
    formats: list[SftExportFormat] = Field(
        default_factory=lambda: ["label_studio", "argilla", "csv"],
        description="Files per queue: label_studio (tasks with a pre-filled TextArea and a Rating, plus "
        "label_config.xml), argilla (records with a rating and a pre-filled text question, plus settings.json), "
        "csv (id, prompt, answer, rating).",
    )
    rating_scale: int = Field(
        5, ge=2, le=10, description="Ratings run from 1 to this (Label Studio maxRating, Argilla rating values)."
    )


class SftLabelParams(StrictModel):
    """Corrections of reviewed conversations: edited answers and ratings from the files in paths.label.annotations."""

    min_rating: int | None = Field(
        3,
        ge=1,
        le=10,
        description="A conversation rated below this is dropped (a counted reject, reason `low_rating`); null "
        "keeps every rating as information only.",
    )
    max_unmatched_fraction: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Fail when more than this share of the corrections names no conversation: usually a file "
        "from another project or an old round.",
    )
