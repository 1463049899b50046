"""Params of the split stage: one train/validation/test split that every approach shares."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.base import Seed, StrictModel


class SplitFractions(StrictModel):
    """Shares of the labeled rows per split; they must sum to 1."""

    train: float = Field(0.8, gt=0.0, le=1.0, description="Share of labeled rows for training.")
    validation: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share for validation (early stopping, model selection); 0 = none."
    )
    test: float = Field(0.1, ge=0.0, lt=1.0, description="Share held out for the final evaluation; 0 = none.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train + validation + test must sum to 1; they sum to {total:.6g} "
                f"({self.train} + {self.validation} + {self.test})"
            )
        return self


class SplitParams(StrictModel):
    """Split labeled rows without leakage: grouped, stratified, then checked for duplicates across splits."""

    method: Literal["random", "hash", "column", "time"] = Field(
        "random",
        description="`random`: seeded, grouped by `group_by`, stratified by label when `stratify`; "
        "`hash`: each group's split from a seeded hash of its smallest row id, so rows keep their split when "
        "data is added or labels are corrected (shares exact in expectation only, not stratified); "
        "`column`: a predefined split column of the source (`column`); `time`: oldest rows train, newest test "
        "(`time_column`).",
    )
    fractions: SplitFractions = Field(
        default_factory=SplitFractions, description="Shares per split (random, hash, time)."
    )
    seed: Seed = Field(42, description="Seed of the random and hash splits; same seed and rows, same split.")
    stratify: bool = Field(True, description="Keep each class's share about equal in every split (random).")
    group_by: str | None = Field(
        "dup_cluster",
        description="Rows column whose equal values stay in one split (clean's near-duplicate cluster). "
        "Rows with the same normalised text are always grouped too. null = group by exact text only.",
    )
    column: str | None = Field(
        None, description="method column: rows column holding train/validation/test (also val, valid, dev, testing)."
    )
    time_column: str | None = Field(None, description="method time: rows column with a date or timestamp.")
    on_leakage: Literal["fail", "drop_from_test", "warn"] = Field(
        "drop_from_test",
        description="A validation/test row that duplicates a row of an earlier split (train, then validation): "
        "`fail` the stage, `drop_from_test` (to rejects, counted), or `warn` and keep it.",
    )
    near_threshold: float | None = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Shingle-set Jaccard similarity from which a validation/test row counts as a near "
        "duplicate of an earlier split's row, with the shingles of clean.near_dup (unit, ngram, lowercase): "
        "one definition of near duplicates for both stages. null = check exact duplicates only.",
    )

    @model_validator(mode="after")
    def _method_fields(self) -> SplitParams:
        if self.method == "column" and not self.column:
            raise ValueError("method: column needs `column` (the rows column holding train/validation/test)")
        if self.method == "time" and not self.time_column:
            raise ValueError("method: time needs `time_column` (the rows column holding a date)")
        if self.column and self.method != "column":
            raise ValueError("`column` only applies to method: column")
        if self.time_column and self.method != "time":
            raise ValueError("`time_column` only applies to method: time")
        return self
