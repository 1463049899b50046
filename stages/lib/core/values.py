"""One conversion of a field value to the nullable string the rows hold: labels, ids and kept fields.

Shared by ingest (values read from a source) and label (values read from an
annotation export), so a label written `1`, `1.0` or `"1"` is the same class
everywhere, and a missing value (None, "", NaN) is a missing label, never "nan".
"""

from __future__ import annotations

import json
import math
from typing import Any


def as_text(value: Any) -> str | None:
    """The value as a nullable string.

    None, "" and NaN become None (missing); booleans 'true'/'false' (a JSON `true` label is the class
    "true", the same class as a CSV cell `true`; ingest refuses a list or object label before this);
    integral floats lose their '.0' (Parquet and pandas turn integer labels with gaps into floats: 1.0 -> '1');
    other floats keep Python's shortest repr; lists and objects become sorted JSON.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def printable(text: str, limit: int = 200) -> str:
    """`text` safe to show in a message: control characters, undecodable bytes and other unprintable ones
    escaped as repr does (a binary file read as CSV must not put raw control bytes on the terminal), cut to
    `limit` characters."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= limit else shown[:limit] + "..."
