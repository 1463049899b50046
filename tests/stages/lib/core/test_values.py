"""One normalisation of labels, ids and kept fields, shared by ingest and label."""

from __future__ import annotations

import math

import pytest

from stages.lib.core.values import as_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        (math.nan, None),
        (1.0, "1"),
        (0.0, "0"),
        (-2.0, "-2"),
        (0.5, "0.5"),
        (1, "1"),
        (True, "true"),
        ("spam", "spam"),
        (math.inf, "inf"),
        ({"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}'),
    ],
)
def test_as_text(value, text):
    assert as_text(value) == text
