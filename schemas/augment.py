"""Params of the augment stage: new training rows from the train split, never from validation or test."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.base import Seed, StrictModel
from schemas.textops import Operation, check_operations

# Generated rows per train row and operation: 100 already turns 10k rows into a million.
MAX_MULTIPLIER = 100.0


class AugmentParams(StrictModel):
    """Generate rows from the train split with text operations, in declared order, per-class multipliers."""

    operations: list[Operation] = Field(
        default_factory=list,
        description="Operations, run in this order (see schemas/textops.py). Empty = train passes through.",
    )
    per_class: dict[str, float] = Field(
        default_factory=dict,
        description="Multiplier of each operation's n_aug per label, e.g. {spam: 1.0, ham: 0.0} augments only "
        "spam. A fraction such as 0.5 augments half of the rows (seeded).",
    )
    default_multiplier: float = Field(
        1.0,
        ge=0.0,
        le=MAX_MULTIPLIER,
        description="Multiplier for labels not named in per_class (0 = leave them alone; at most 100).",
    )
    minority_multiplier: float | None = Field(
        None,
        ge=0.0,
        le=MAX_MULTIPLIER,
        description="Multiplier for every label not named in per_class except the largest class of the train "
        "split, so `{minority_multiplier: 1.0, default_multiplier: 0.0}` augments the minority classes of any "
        "data set without naming them; null = default_multiplier for all.",
    )
    max_rows: int | None = Field(
        None,
        ge=0,
        le=1_000_000_000,
        description="Keep at most this many generated rows in total (a seeded random subset); null = no cap.",
    )
    seed: Seed = Field(42, description="Seed of every random choice; each row's choices depend only on it and the row.")

    @model_validator(mode="after")
    def _checks(self) -> AugmentParams:
        check_operations(self.operations)
        bad = {k: v for k, v in self.per_class.items() if not 0 <= v <= MAX_MULTIPLIER}
        if bad:
            raise ValueError(f"augment.per_class multipliers must be between 0 and {MAX_MULTIPLIER:g}; got {bad}")
        return self
