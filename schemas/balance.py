"""Params of the balance stage: resample the train split and/or weight the classes in the loss."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from schemas.base import StrictModel
from schemas.textops import Operation, check_operations
from schemas.tfidf import SKLEARN_TOKENS, TfidfFeatures
from stages.lib.balance.kinds import CLEAN, NO_RESAMPLING, OVER, UNDER, sampler_kind

# Literal over the library's tuples: one list of names, so a sampler added there is accepted here too.
Strategy = Literal[NO_RESAMPLING + OVER + UNDER + CLEAN]  # type: ignore[valid-type]

# The strings imbalanced-learn accepts for each kind of sampler ('minority' cannot be under-sampled).
STRINGS = {
    "over": ("auto", "minority", "not minority", "not majority", "all"),
    "under": ("auto", "majority", "not minority", "not majority", "all"),
    "clean": ("auto", "majority", "not minority", "not majority", "all"),
}




class Synthetic(StrictModel):
    """How the `synthetic` strategy writes new minority rows (text operations instead of copies)."""

    operations: list[Operation] = Field(
        default_factory=list,
        description="Operations used in turn to generate rows (see schemas/textops.py); n_aug and apply_to are "
        "ignored here: rows are generated until each class reaches its target.",
    )
    max_attempts: int = Field(
        4,
        ge=1,
        le=100,
        description="Tries per missing row before giving up on a class (duplicates and unchanged texts are "
        "retried); a shortfall is reported in the metrics.",
    )

    @model_validator(mode="after")
    def _checks(self) -> Synthetic:
        check_operations(self.operations)
        return self


class BalanceParams(StrictModel):
    """Resample the train rows with imbalanced-learn (mapped back through sample_indices_) and/or weight classes."""

    strategy: Strategy = Field(
        "none",
        description="none | class_weights (no resampling, weights only) | random_over | synthetic (new rows from "
        "the text operations) | random_under | near_miss | instance_hardness | cleaning samplers: tomek_links, "
        "edited_nearest_neighbours, repeated_edited_nearest_neighbours, all_knn, condensed_nearest_neighbour, "
        "one_sided_selection, neighbourhood_cleaning.",
    )
    sampling_strategy: str | float | dict[str, int] | list[str] = Field(
        "auto",
        description="As imbalanced-learn takes it: a string ('auto', 'minority', 'majority', 'not minority', "
        "'not majority', 'all'); a float (binary only: minority/majority ratio after resampling); a dict "
        "{label: rows wanted} (over/under-samplers); a list of labels to clean (cleaning samplers).",
    )
    class_weights: Literal["none", "balanced", "balanced_sqrt"] | dict[str, float] = Field(
        "none",
        description="Loss weights written to class_weights.json, computed on the rows after resampling: "
        "'balanced' = n_rows / (n_classes * rows_of_class) (scikit-learn), 'balanced_sqrt' = its square root "
        "(milder), a dict {label: weight}, or 'none'.",
    )
    n_neighbors: int = Field(
        3, ge=1, le=1000, description="At most 1000. Neighbours for the neighbour-based samplers (ENN, AllKNN, ...)."
    )
    features: TfidfFeatures = Field(
        default_factory=lambda: TfidfFeatures(word_ngrams=(1, 2), token_pattern=SKLEARN_TOKENS, max_features=20000),
        description="TF-IDF features on which the neighbour-based samplers measure distances.",
    )
    synthetic: Synthetic = Field(default_factory=Synthetic, description="Settings of the `synthetic` strategy.")
    seed: int = Field(42, description="random_state of the samplers and seed of the synthetic rows.")

    @field_validator("sampling_strategy")
    @classmethod
    def _fits_sampler(cls, s: Any, info: ValidationInfo) -> Any:
        """What imbalanced-learn accepts for the sampler kind (a float on many classes is caught at run time)."""
        strategy = info.data.get("strategy")
        if strategy is None:
            return s  # strategy itself is invalid and reported
        kind = sampler_kind(strategy)
        if kind is None:
            if s != "auto":
                raise ValueError(f"applies only to resampling strategies, not '{strategy}'; leave it 'auto'")
        elif isinstance(s, str):
            if s not in STRINGS[kind]:
                raise ValueError(
                    f"'{s}' is not valid for {kind}-sampler '{strategy}'; use one of {list(STRINGS[kind])}"
                )
        elif isinstance(s, float):
            if kind == "clean":
                raise ValueError(
                    f"a float does not apply to cleaning sampler '{strategy}'; give a list of labels "
                    "to clean or a string such as 'auto'"
                )
            if not 0.0 < s <= 1.0:
                raise ValueError("a float is the minority/majority ratio wanted after resampling, in (0, 1]")
        elif isinstance(s, dict):
            if kind == "clean":
                raise ValueError(
                    f"a dict does not apply to cleaning sampler '{strategy}'; give a list of the "
                    "labels to clean instead"
                )
            bad = {k: v for k, v in s.items() if v < 0}
            if bad:
                raise ValueError(f"counts must be >= 0; got {bad}")
        elif kind != "clean":
            raise ValueError(
                f"a list applies only to cleaning samplers, not '{strategy}'; use a dict {{label: rows wanted}}"
            )
        return s

    @field_validator("class_weights")
    @classmethod
    def _weights(cls, w: Any) -> Any:
        if isinstance(w, dict):
            bad = {k: v for k, v in w.items() if v <= 0}
            if bad:
                raise ValueError(f"weights must be > 0; got {bad}")
        return w

    @model_validator(mode="after")
    def _needs(self) -> BalanceParams:
        if self.strategy == "class_weights" and self.class_weights == "none":
            raise ValueError("strategy 'class_weights' needs class_weights set: 'balanced', 'balanced_sqrt' or a dict")
        if self.strategy == "synthetic" and not self.synthetic.operations:
            raise ValueError("strategy 'synthetic' needs balance.synthetic.operations (e.g. [{kind: eda}])")
        return self
