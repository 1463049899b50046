"""Params of the pull-request gate (`make report`): which changes fail the review.

No stage reads this section; `scripts/report.py` does. Test scores are judged by a paired bootstrap of the
branch's and the base's test predictions (data/predictions/<approach>.parquet, both versioned) on the same test
rows, so a change inside the test set's own noise passes; counters such as leakage are judged by `dvc metrics
diff` against a tolerance.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Seed, StrictModel

ScoreMetric = Literal["macro_f1", "accuracy"]


class GateRule(StrictModel):
    """How far one metric may move the wrong way before the review fails."""

    direction: Literal["higher", "lower"] = Field(
        description="higher: bigger is better, a drop can regress; lower: a rise can regress (leakage)."
    )
    abs_tol: float = Field(0.0, ge=0.0, description="Allowed move the wrong way, in the metric's units.")
    rel_tol: float = Field(
        0.0,
        ge=0.0,
        description="Allowed move the wrong way as a share of the base value (0.02 = 2%); added to abs_tol.",
    )


class ScoreGate(StrictModel):
    """Each approach's test scores, branch against base, by a paired bootstrap over the test rows both scored."""

    metrics: list[ScoreMetric] = Field(
        default_factory=lambda: ["macro_f1", "accuracy"], description="Test scores compared for every approach."
    )
    level: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="Significance level: a drop fails when the whole (1 - level) paired-bootstrap interval of "
        "branch minus base lies below 0.",
    )
    max_drop: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Absolute points (0.05 = five points of macro-F1): a drop larger than this fails even when it "
        "is not significant. null: only significant drops fail.",
    )
    n_resamples: int = Field(2000, ge=100, le=100_000, description="Bootstrap resamples of the paired test rows.")
    seed: Seed = Field(42, description="Seed of the resampling (the same report on every run).")


def default_rules() -> dict[str, GateRule]:
    return {
        "near": GateRule(direction="lower"),
        "exact": GateRule(direction="lower"),
    }


class Gate(StrictModel):
    """The regression gate of `make report`."""

    scores: ScoreGate = Field(
        default_factory=ScoreGate,
        description="Test scores of each approach: paired bootstrap of this branch's and the base's predictions.",
    )
    # A rule's key names metrics by their dotted name or its last parts: `near` (or `leakage.near`) matches
    # split's leakage.near; `macro_f1` would match every approach's headline macro_f1 (without the noise).
    rules: dict[str, GateRule] = Field(
        default_factory=default_rules,
        description="Headline metrics of `dvc metrics diff` (counters such as leakage): key -> direction and "
        "tolerance. A metric whose dotted name is the key or ends with `.<key>` fails the review when it moves "
        "the wrong way by more than abs_tol + rel_tol * |base value|.",
    )


def default_gate() -> Gate:
    return Gate()
