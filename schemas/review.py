"""Params of the review stage: which rows go to annotators, how many, in which tools' formats."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.audit import IssueKind
from schemas.base import Seed, StrictModel

ExportFormat = Literal["label_studio", "argilla", "doccano", "csv"]


class IssueQueue(StrictModel):
    """The audit's issues, worst first."""

    budget: int = Field(100, ge=0, le=1_000_000, description="Rows sent (at most 1 million); 0 disables the queue.")
    kinds: list[IssueKind] = Field(
        default_factory=lambda: ["label_issue", "duplicate_conflict", "outlier", "low_quality"],
        description="Issue kinds sent, in this priority; a row flagged twice is sent once. `low_quality` (the "
        "audit's next most doubtful rows) fills what the budget leaves.",
    )


class ActiveQueue(StrictModel):
    """Active learning: the unlabelled rows the model is least sure about."""

    budget: int = Field(100, ge=0, le=1_000_000, description="Rows sent (at most 1 million); 0 disables the queue.")
    uncertainty: Literal["margin", "entropy"] = Field(
        "margin", description="`margin`: smallest gap between the two most likely classes; `entropy`: highest."
    )
    kmeans_clusters: int | None = Field(
        None,
        ge=2,
        le=10_000,
        description="Spread the picks over this many k-means clusters of the TF-IDF features (round robin, most "
        "uncertain first); null = plain ranking. Either way one row per `dup_cluster`. At most 10000.",
    )


class ReviewParams(StrictModel):
    """Two queues for annotators, exported with the model's suggestion attached."""

    issues: IssueQueue = Field(default_factory=IssueQueue, description="Queue `issues`: audit findings.")
    active: ActiveQueue = Field(default_factory=ActiveQueue, description="Queue `active`: unlabelled rows.")
    formats: list[ExportFormat] = Field(
        default_factory=lambda: ["label_studio", "argilla", "doccano", "csv"],
        description="Files written per queue: label_studio (tasks.json with predictions), argilla "
        "(records.json with suggestions), doccano (JSONL), csv.",
    )
    question: str = Field(
        "label",
        description="Name of the labelling question: Label Studio from_name, Argilla question, CSV column. "
        "Import the answers with the same `question`.",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    seed: Seed = Field(42, description="k-means and model seed.")
