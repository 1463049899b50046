"""Shared hypothesis settings and strategies for the fuzz suites over readers and importers.

Derandomized (a fixed sequence of examples: the same run every time, on every
machine), no example database written to the repository, no deadline (the
machine is shared), and a small `max_examples` so each suite stays within a few
seconds of the default test run; `REFINERY_FUZZ_EXAMPLES=2000` searches harder.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("REFINERY_FUZZ_EXAMPLES", 25)),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Field names and words the formats use, so generated structures reach deep into each reader.
KEYS = [
    "text", "label", "id", "meta", "data", "annotations", "completions", "result", "type", "from_name", "value",
    "choices", "responses", "fields", "metadata", "user_id", "status", "answer", "accept", "options", "annotator",
    "_annotator_id", "was_cancelled", "ground_truth", "completed_by", "label.responses", "label.responses.users",
    "label.responses.status", "row_id",
]  # fmt: skip
WORDS = ["choices", "label", "spam", "ham", "accept", "reject", "ignore", "submitted", "discarded", "hello", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=20,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)


def dumps(value: Any) -> str:
    """JSON as Python writes it, NaN and Infinity included (JSON tools meet those in real exports)."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


def json_lines(values: list[Any], junk: list[str]) -> bytes:
    lines = [dumps(v) for v in values] + junk
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


# Unicode text with the characters that break delimited readers.
delimited_text = st.text(
    alphabet=st.sampled_from(list("ab ,\t\"'\n\r\x00é€\u2028")) | st.characters(codec="utf-8"), max_size=12
)
