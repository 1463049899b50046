"""Params of the monitor stage: where new unlabelled text arrives and how drift is judged."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from schemas.base import Seed, StrictModel
from schemas.ingest import Source, name_sources
from schemas.tfidf import TfidfFeatures

MAX_PERMUTATIONS = 10_000


def _default_sources() -> dict[str, Source]:
    return {"incoming": Source(name="incoming", path="data/incoming/**/*.txt", format="text", allow_empty=True)}


class MonitorParams(StrictModel):
    """A batch of new text against the training data: domain classifier, descriptors, confidence."""

    sources: dict[str, Source] = Field(
        default_factory=_default_sources,
        description="Incoming batches, read like ingest sources (same formats and options) and made into model "
        "text with clean.normalize and clean.pii (as the training rows were), keyed by name like ingest.sources. "
        "No file present = no batch: the stage writes a `no batch` result. A file refused (a symlink leading "
        "outside the repository) or a source with too many unusable records is an error, never `no batch`.",
    )
    max_reject_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Fail when more than this share of a source's records cannot be used (undecodable, empty "
        "text), as ingest.max_reject_fraction does: a wrong format or encoding should stop the stage, not "
        "report a smaller batch. A source whose every record is rejected always fails.",
    )
    folds: int = Field(5, ge=2, le=20, description="Folds of the domain classifier's cross-validated ROC AUC.")
    permutations: int = Field(
        100,
        ge=10,
        le=MAX_PERMUTATIONS,
        description="Label permutations of the null distribution; the smallest p-value is 1/(n+1), which must be "
        "below alpha (at most 10000: each one is a column of the domain classifier's fit).",
    )
    alpha: float = Field(0.01, gt=0, lt=1, description="Drift is flagged when the domain classifier's p < alpha.")
    max_rows: int = Field(
        2000,
        ge=10,
        le=1_000_000,
        description="Rows per side in the domain classifier (random sample), to bound its cost (at most 1 million).",
    )
    domain_features: TfidfFeatures = Field(
        default_factory=lambda: TfidfFeatures(word_ngrams=(1, 1), char_ngrams=None, max_features=20000),
        description="TF-IDF features of the domain classifier (fitted on both sides, no domain label seen).",
    )
    review_budget: int = Field(
        50, ge=0, le=1_000_000, description="Most drifted / least confident rows exported as tasks (at most 1 million)."
    )
    seed: Seed = Field(42, description="Sampling, folds and permutations.")

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        return name_sources(data, "monitor.sources")

    @model_validator(mode="after")
    def _alpha_reachable(self) -> MonitorParams:
        """The permutation test's smallest p-value, 1/(permutations+1), must be below alpha, or nothing is ever
        flagged: `permutations: 10` with `alpha: 0.01` validated and reported "no drift" for any batch."""
        if 1 / (self.permutations + 1) < self.alpha:
            return self
        smallest = 1 / (self.permutations + 1)
        if self.alpha <= 1 / (MAX_PERMUTATIONS + 1):
            fix = (
                f"raise monitor.alpha above {1 / (MAX_PERMUTATIONS + 1):.4g} (permutations go up to {MAX_PERMUTATIONS})"
            )
        else:
            needed = math.floor(1 / self.alpha)
            while 1 / (needed + 1) >= self.alpha:
                needed += 1
            fix = f"set monitor.permutations to at least {needed}, or raise monitor.alpha above {smallest:.4g}"
        raise ValueError(
            f"monitor.permutations {self.permutations} cannot reach monitor.alpha {self.alpha}: the smallest "
            f"p-value is 1/{self.permutations + 1} = {smallest:.4g}, never below alpha; {fix}"
        )
