"""Params of the monitor stage: where new unlabelled text arrives and how drift is judged."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from schemas.base import StrictModel
from schemas.ingest import Source, name_sources
from schemas.tfidf import TfidfFeatures


def _default_sources() -> dict[str, Source]:
    return {"incoming": Source(name="incoming", path="data/incoming/**/*.txt", format="text", allow_empty=True)}


class MonitorParams(StrictModel):
    """A batch of new text against the training data: domain classifier, descriptors, confidence."""

    sources: dict[str, Source] = Field(
        default_factory=_default_sources,
        description="Incoming batches, read like ingest sources (same formats and options) and made into model "
        "text with clean.normalize and clean.pii (as the training rows were), keyed by name like ingest.sources. "
        "No file present = no batch: the stage writes a `no batch` result.",
    )
    folds: int = Field(5, ge=2, le=20, description="Folds of the domain classifier's cross-validated ROC AUC.")
    permutations: int = Field(
        100, ge=10, description="Label permutations of the null distribution; the smallest p-value is 1/(n+1)."
    )
    alpha: float = Field(0.01, gt=0, lt=1, description="Drift is flagged when the domain classifier's p < alpha.")
    max_rows: int = Field(
        2000, ge=10, description="Rows per side in the domain classifier (random sample), to bound its cost."
    )
    domain_features: TfidfFeatures = Field(
        default_factory=lambda: TfidfFeatures(word_ngrams=(1, 1), char_ngrams=None, max_features=20000),
        description="TF-IDF features of the domain classifier (fitted on both sides, no domain label seen).",
    )
    review_budget: int = Field(50, ge=0, description="Most drifted / least confident rows exported as tasks.")
    seed: int = Field(42, description="Sampling, folds and permutations.")

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        return name_sources(data, "monitor.sources")
