"""Params of the compare stage: the table across approaches and an optional quality gate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import StrictModel

QualityMetric = Literal["accuracy", "macro_f1", "weighted_f1", "mcc"]


class Gate(StrictModel):
    """Fail the pipeline when even the best approach is below a minimum."""

    metric: QualityMetric = Field("macro_f1", description="Test metric the gate checks.")
    minimum: float = Field(description="The best approach must reach at least this value.")


class CompareParams(StrictModel):
    """How approaches are ranked in reports/comparison.md."""

    metric: QualityMetric = Field("macro_f1", description="Test metric that ranks the approaches.")
    gate: Gate | None = Field(None, description="Optional quality gate; null disables it.")
