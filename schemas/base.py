"""Shared base for every params model: unknown keys are errors, never ignored."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# numpy's and scikit-learn's seeds are 32-bit unsigned: 2**32 or -1 validated before, then crashed mid-run.
SEED_MAX = 2**32 - 1
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


class StrictModel(BaseModel):
    """A params model that rejects unknown keys and re-validates on assignment.

    `extra="forbid"` turns a typo such as `ingest.sorces` into an error that
    names the closest valid key, instead of a silently ignored setting.
    `allow_inf_nan=False`: `.inf` or `.nan` in a float setting (a delay, a rate, a tolerance) passes a `ge`
    bound and then overflows or never ends, so every float must be finite.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False)


def check_inside_repo(value: str, fix: str) -> str:
    """Reject an absolute path or one whose `..` climbs out of the repository; `fix` says what to do instead."""
    p = PurePosixPath(value)
    if p.is_absolute():
        raise ValueError(f"must be relative to the repository root, not absolute; {fix}")
    depth = 0
    for part in p.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise ValueError(f"escapes the repository; {fix}")
    return value


def check_regexes(patterns: list[str]) -> list[str]:
    """Fail on the first pattern Python's `re` cannot compile, quoting it and the reason."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"'{pattern}' is not a valid regular expression: {exc}") from None
    return patterns
