"""Params of the curve stage: learning curves of the approaches over nested subsets of the train split
(CurveParams for classification, SftCurveParams for the SFT pipeline)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.approaches import Approaches
from schemas.base import Seed, StrictModel
from schemas.causal import CausalApproaches, default_causal_approaches


def _scratch_approaches() -> dict:
    from schemas.approaches import KINDS

    return {kind: model.model_validate({"kind": kind}) for kind, model in KINDS.items()}


class CurveBootstrap(StrictModel):
    n_resamples: int = Field(
        500,
        ge=50,
        le=10_000,
        description="Refits on resampled runs for the interval of the exponent b (at most 10000).",
    )
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of the interval.")
    seed: Seed = Field(42, description="Seed of the resampling.")


class CurveParams(StrictModel):
    """How many trainings the learning curves cost: approaches x fractions x seeds."""

    enabled: bool = Field(
        False,
        description="Off by default: the curves retrain every approach about ten times (about 20 minutes on two "
        "cores with the scratch model), so a plain `dvc repro` only records that they are off. Turn them on for "
        "one run with `dvc exp run -S curve.enabled=true curve` (make curve), or here.",
    )

    base: Literal["scratch", "base_model"] = Field(
        "scratch",
        description="scratch: pre-train model.scratch's tiny model for the curves (minutes on two cores); "
        "base_model: the base_model stage's model (models/base), e.g. all-MiniLM-L6-v2 (much slower on CPU).",
    )
    approaches: Approaches = Field(
        default_factory=_scratch_approaches,
        description="The approaches to trace, like the `approaches` section (their own learning rates: the base "
        "model may differ from the demo's).",
    )
    fractions: list[float] = Field(
        [0.0625, 0.125, 0.25, 0.5, 1.0],
        min_length=3,
        max_length=20,
        description="Shares of the train split; nested subsets (3 to 20 of them).",
    )
    seeds: int = Field(
        3, ge=1, le=20, description="Seeds (subset draw and training) at the small fractions; at most 20."
    )
    seeds_up_to: float = Field(
        0.125, gt=0, le=1, description="Fractions up to this one get `seeds` seeds; larger ones a single seed."
    )
    group_by: str | None = Field(
        "dup_cluster", description="Column whose groups stay whole in every subset (near-duplicate clusters)."
    )
    target_macro_f1: float = Field(0.97, gt=0, lt=1, description="Report how many rows each approach needs for it.")
    bootstrap: CurveBootstrap = Field(default_factory=CurveBootstrap, description="Interval of the exponent b.")

    @model_validator(mode="after")
    def _fractions(self) -> CurveParams:
        bad = [f for f in self.fractions if not 0 < f <= 1]
        if bad or len(set(self.fractions)) != len(self.fractions):
            raise ValueError(f"curve.fractions must be distinct values in (0, 1]; got {self.fractions}")
        return self


class SftCurveParams(StrictModel):
    """The learning curves of the SFT pipeline (`task: sft`): approaches x fractions x seeds causal-LM trainings,
    each on a nested subset of the train conversations with the `train` section's budget, scored on the test
    prompts by `compare.metric` (token F1 by default) and on the validation loss."""

    enabled: bool = Field(
        False,
        description="Off by default: the curves retrain every approach once per fraction and seed, so a plain "
        "`dvc repro` only records that they are off. Run them with `dvc exp run -S curve.enabled=true curve` "
        "(from sft/), or turn them on here.",
    )
    approaches: CausalApproaches = Field(
        default_factory=default_causal_approaches,
        description="The causal-LM approaches to trace, like the `approaches` section (their own learning rates).",
    )
    fractions: list[float] = Field(
        [0.125, 0.25, 0.5, 1.0],
        min_length=3,
        max_length=20,
        description="Shares of the train conversations; nested subsets, stratified by source (3 to 20 of them).",
    )
    seeds: int = Field(
        2, ge=1, le=20, description="Seeds (subset draw and training) at the small fractions; at most 20."
    )
    seeds_up_to: float = Field(
        0.25, gt=0, le=1, description="Fractions up to this one get `seeds` seeds; larger ones a single seed."
    )
    target_score: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Report how many train conversations each approach needs for this test "
        "score (the `compare.metric` of the answers).",
    )
    bootstrap: CurveBootstrap = Field(default_factory=CurveBootstrap, description="Interval of the exponent b.")

    @model_validator(mode="after")
    def _fractions(self) -> SftCurveParams:
        bad = [f for f in self.fractions if not 0 < f <= 1]
        if bad or len(set(self.fractions)) != len(self.fractions):
            raise ValueError(f"curve.fractions must be distinct values in (0, 1]; got {self.fractions}")
        return self
