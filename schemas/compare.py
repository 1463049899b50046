"""Params of the compare stage: the table across approaches, the classical baseline, intervals, the gate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.base import StrictModel
from schemas.tfidf import SKLEARN_TOKENS, LogisticRegressionSettings, TfidfFeatures

QualityMetric = Literal["accuracy", "macro_f1", "weighted_f1", "mcc"]


# The range each test metric can take: a gate minimum outside it can never pass (or never fail).
METRIC_RANGE = {"accuracy": (0.0, 1.0), "macro_f1": (0.0, 1.0), "weighted_f1": (0.0, 1.0), "mcc": (-1.0, 1.0)}


class Gate(StrictModel):
    """Fail the pipeline when even the best approach is below a minimum."""

    metric: QualityMetric = Field("macro_f1", description="Test metric the gate checks.")
    minimum: float = Field(description="The best approach must reach at least this value (within the metric's range).")

    @field_validator("minimum")
    @classmethod
    def _in_range(cls, minimum: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric")
        if metric is None:
            return minimum  # the metric itself is invalid and reported
        low, high = METRIC_RANGE[metric]
        if not low <= minimum <= high:
            raise ValueError(
                f"{metric} lies between {low:g} and {high:g}: a minimum outside that range always passes or can "
                "never pass; set one in that range (or gate: null)"
            )
        return minimum


class TfidfBaseline(StrictModel):
    """TF-IDF word and character n-grams with logistic regression: what a data scientist tries first.

    Fitted on the split's train rows as they are before augment and balance (the rows a user would give a
    classical model), like the majority-class row.
    """

    features: TfidfFeatures = Field(
        default_factory=lambda: TfidfFeatures(word_ngrams=(1, 2), char_ngrams=(2, 5), token_pattern=SKLEARN_TOKENS),
        description="The n-grams: word 1-2 and character 2-5 by default.",
    )
    classifier: LogisticRegressionSettings = Field(
        default_factory=lambda: LogisticRegressionSettings(
            solver="lbfgs", c=10.0, class_weight="balanced", max_iter=2000
        ),
        description="The logistic regression. lbfgs: deterministic and fits any number of classes.",
    )


class Bootstrap(StrictModel):
    """Bootstrap over test rows: intervals per approach and the paired difference to the TF-IDF baseline."""

    n_resamples: int = Field(2000, ge=100, le=100_000, description="Resamples of the test rows (at most 100000).")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of every interval.")
    seed: int = Field(42, description="Seed of the resampling (same resamples for every approach).")


class CompareParams(StrictModel):
    """How approaches are ranked in reports/comparison.md."""

    metric: QualityMetric = Field("macro_f1", description="Test metric that ranks the approaches.")
    gate: Gate | None = Field(None, description="Optional quality gate; null disables it.")
    baseline: TfidfBaseline = Field(default_factory=TfidfBaseline, description="The classical baseline row.")
    bootstrap: Bootstrap = Field(default_factory=Bootstrap, description="Confidence intervals and verdicts.")
