"""Params of the compare stage: the table across approaches, the classical baseline, intervals, the gate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.base import Seed, StrictModel

QualityMetric = Literal["accuracy", "macro_f1", "weighted_f1", "mcc"]


class Gate(StrictModel):
    """Fail the pipeline when even the best approach is below a minimum."""

    metric: QualityMetric = Field("macro_f1", description="Test metric the gate checks.")
    minimum: float = Field(description="The best approach must reach at least this value.")


class TfidfBaseline(StrictModel):
    """TF-IDF word and character n-grams with logistic regression: what a data scientist tries first."""

    word_ngrams: tuple[int, int] = Field((1, 2), description="Word n-gram range [min, max].")
    char_ngrams: tuple[int, int] = Field(
        (2, 5), description="Character n-gram range [min, max], within word boundaries (char_wb)."
    )
    min_df: int = Field(1, ge=1, description="Drop n-grams seen in fewer train texts.")
    max_features: int | None = Field(None, ge=1, description="Keep the most frequent n-grams per kind; null keeps all.")
    sublinear_tf: bool = Field(True, description="1 + log(tf) instead of raw counts.")
    lowercase: bool = Field(True, description="Lower-case before extracting n-grams.")
    c: float = Field(10.0, gt=0, description="Inverse L2 regularisation strength of the logistic regression.")
    class_weight: Literal["balanced"] | None = Field(
        "balanced", description="balanced: weight classes by n / (k * count); null: no weights."
    )
    seed: Seed = Field(42, description="Seed of the solver.")

    @model_validator(mode="after")
    def _ranges(self) -> TfidfBaseline:
        for name in ("word_ngrams", "char_ngrams"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(
                    f"compare.baseline.{name} must be [min, max] with 1 <= min <= max; got [{low}, {high}]"
                )
        return self


class Bootstrap(StrictModel):
    """Bootstrap over test rows: intervals per approach and the paired difference to the TF-IDF baseline."""

    n_resamples: int = Field(2000, ge=100, le=100_000, description="Resamples of the test rows (at most 100000).")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of every interval.")
    seed: Seed = Field(42, description="Seed of the resampling (same resamples for every approach).")


class CompareParams(StrictModel):
    """How approaches are ranked in reports/comparison.md."""

    metric: QualityMetric = Field("macro_f1", description="Test metric that ranks the approaches.")
    gate: Gate | None = Field(None, description="Optional quality gate; null disables it.")
    baseline: TfidfBaseline = Field(default_factory=TfidfBaseline, description="The classical baseline row.")
    bootstrap: Bootstrap = Field(default_factory=Bootstrap, description="Confidence intervals and verdicts.")
