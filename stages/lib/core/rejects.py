"""The reject record: one helper that every stage uses to set a row aside with its reason.

Every rejects file has the same columns (`schemas.rows.REJECT_FIELDS`), so a
reviewer reads them all the same way. `reject()` builds one record and makes
its strings storable (a lone surrogate from a JSON escape such as `"\\ud800"`
would make the Parquet write fail, losing every row of the run);
`rejects_table()` turns records into the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from schemas.rows import REJECT_FIELDS

REJECT_SCHEMA = pa.schema(REJECT_FIELDS)


def storable(text: str | None) -> str | None:
    """The text unchanged when it is valid Unicode, else with each lone surrogate written as `\\udXXX`."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def reject(
    stage: str,
    reason: str,
    *,
    source: str | None = None,
    location: str | None = None,
    row_id: str | None = None,
    detail: str | None = None,
    raw: str | None = None,
) -> dict[str, str | None]:
    """One reject record: which stage dropped what (source, location, id), why (reason, detail), and the raw input."""
    return {
        "stage": stage,
        "reason": reason,
        "source": storable(source),
        "location": storable(location),
        "id": row_id,
        "detail": storable(detail),
        "raw": storable(raw),
    }


def rejects_table(
    records: Iterable[dict[str, Any]], sort_key: Callable[[dict[str, Any]], Any] | None = None
) -> pa.Table:
    """Reject records as a table in the shared layout, sorted by `sort_key` when given (else in order)."""
    records = list(records)
    if sort_key is not None:
        records.sort(key=sort_key)
    return pa.Table.from_pylist(records, schema=REJECT_SCHEMA)
