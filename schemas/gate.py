"""Params of the pull-request gate (`make report`): which metric changes fail the review.

No stage reads this section; `scripts/report.py` does, after `dvc metrics diff` against the base branch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import StrictModel


class GateRule(StrictModel):
    """How far one metric may move the wrong way before the review fails."""

    direction: Literal["higher", "lower"] = Field(
        description="higher: bigger is better, a drop can regress (macro_f1); lower: a rise can regress (leakage)."
    )
    abs_tol: float = Field(0.0, ge=0.0, description="Allowed move the wrong way, in the metric's units.")
    rel_tol: float = Field(
        0.0,
        ge=0.0,
        description="Allowed move the wrong way as a share of the base value (0.02 = 2%); added to abs_tol.",
    )


# A rule's key names metrics by their dotted name or its last parts: `macro_f1` matches each approach's
# macro_f1 and compare's best.macro_f1; `near` (or `leakage.near`) matches split's leakage.near.
Gate = dict[str, GateRule]


def default_gate() -> Gate:
    return {
        "macro_f1": GateRule(direction="higher", abs_tol=0.01),
        "accuracy": GateRule(direction="higher", abs_tol=0.01),
    }
