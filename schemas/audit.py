"""Params of the audit stage: which model scores the labelled rows out of fold, and what counts as an issue."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Seed, StrictModel
from schemas.tfidf import LogisticRegressionSettings, TfidfFeatures

IssueKind = Literal["label_issue", "outlier", "duplicate_conflict", "low_quality"]


class AuditParams(StrictModel):
    """Out-of-fold probabilities and confident learning over the labelled train and validation rows."""

    splits: list[Literal["train", "validation"]] = Field(
        default_factory=lambda: ["train", "validation"],
        description="Splits audited. Never test: reviewing test labels with a model is choosing the test set.",
    )
    folds: int = Field(5, ge=2, le=50, description="k of the k-fold, grouped by `dup_cluster`, stratified by label.")
    features: Literal["tfidf", "base"] = Field(
        "tfidf",
        description="`tfidf`: TF-IDF + logistic regression (fast, strong on short text). `base`: mean-pooled "
        "embeddings of models/base (frozen) + logistic regression; needs the base_model stage.",
    )
    tfidf: TfidfFeatures = Field(
        default_factory=lambda: TfidfFeatures(word_ngrams=(1, 2), char_ngrams=None, max_features=20000),
        description="TF-IDF features (features: tfidf), fitted on the training folds only; review's and monitor's "
        "models use them too.",
    )
    max_length: int = Field(64, ge=8, le=32_768, description="features: base: tokens per text (at most 32768).")
    classifier: LogisticRegressionSettings = Field(
        default_factory=lambda: LogisticRegressionSettings(solver="saga", c=10.0, class_weight=None, max_iter=2000),
        description="The logistic regression on either features (review's and monitor's models too). saga: same "
        "flags as lbfgs on the planted-noise benchmark, about 15x faster on sparse TF-IDF at C=10.",
    )
    method: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "confident_joint", "predicted_neq_given"
    ] = Field(
        "both",
        description="Which rows confident learning flags (cleanlab's `filter_by`): `prune_by_noise_rate` (expected "
        "count per off-diagonal cell of the joint, by margin; the paper's default), `prune_by_class`, `both` (flagged "
        "by both: the default, as precise as prune_by_noise_rate on two classes, 0.04 to 0.17 more precise on "
        "TREC and BANKING77 with 10% planted flips), `confident_learning` (alias `confident_joint`: every row "
        "counted off the diagonal) or `predicted_neq_given`.",
    )
    rank_by: Literal["self_confidence", "normalized_margin", "confidence_weighted_entropy"] = Field(
        "self_confidence",
        description="Label quality score of an issue (cleanlab's; lower = more likely wrong), its order in review.",
    )
    error_estimate: Literal["auto", "calibrated_joint", "off_diagonal"] = Field(
        "auto",
        description="The estimated label-error rate: `calibrated_joint` (off-diagonal mass of the calibrated joint, "
        "the paper's), `off_diagonal` (rows counted off the confident joint's diagonal over all rows, cleanlab's "
        "`num_label_issues`), or `auto`: the first for two classes, the second for more (each was the closer on "
        "planted rates of 0-20%, docs/refine.md).",
    )
    interval_resamples: int = Field(
        200,
        ge=0,
        le=100_000,
        description="Bootstrap draws of the audited rows for the interval of the estimated error rate; 0 = none.",
    )
    interval_level: float = Field(
        0.95, gt=0, lt=1, description="Coverage of that interval (0.95: the 2.5th to 97.5th percentile of the draws)."
    )
    outlier_quantile: float | None = Field(
        0.005,
        ge=0.0,
        le=0.5,
        description="Flag this share of rows least similar to their own class centroid as `outlier`; null = off.",
    )
    low_quality_share: float | None = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Also list the rows confident learning did not flag with the lowest label quality score "
        "(`rank_by`), up to this share of the audited rows, as `low_quality`: review sends them after the other "
        "kinds while its budget lasts (one round then finds about 0.9 of planted flips, not 0.7: docs/refine.md). "
        "null = off.",
    )
    duplicate_conflicts: bool = Field(
        True, description="Flag rows of one `dup_cluster` that carry different labels (`duplicate_conflict`)."
    )
    seed: Seed = Field(42, description="Fold assignment (the model's seed is classifier.seed).")
