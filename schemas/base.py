"""Shared base for every params model: unknown keys are errors, never ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A params model that rejects unknown keys and re-validates on assignment.

    `extra="forbid"` turns a typo such as `ingest.sorces` into an error that
    names the closest valid key, instead of a silently ignored setting.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
