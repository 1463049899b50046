"""ingest's records to canonical rows: field checks, text selection (the one text path), labels, ids, rejects."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from schemas.ingest import IMPLICIT_TEXT_FORMATS, Source
from stages.lib.core.errors import StageError
from stages.lib.core.ids import row_id, row_key
from stages.lib.core.rejects import reject, storable
from stages.lib.core.values import as_text, printable
from stages.lib.ingest.readers import Record
from stages.lib.text.prepare import select_text

# Every reason a row can be dropped here; all are written (zeros too) so metric keys stay stable.
REASONS = (
    "blank_line",
    "decode_error",
    "duplicate_id",
    "empty_text",
    "invalid_unicode",
    "label_not_scalar",
    "malformed_json",
    "missing_id",
    "missing_text",
    "not_an_object",
    "parse_error",
    "text_not_string",
    "wrong_column_count",
)


def check_fields(source: Source, records: list[Record]) -> None:
    """Fail when a configured field appears in no record of the source, listing the fields that do."""
    if source.format in IMPLICIT_TEXT_FORMATS:
        return
    present: set[str] = set()
    for record in records:
        if record.fields:
            present.update(record.fields)
    if not present:
        return  # nothing readable: the reject fraction reports it
    wanted = {"label_field": source.label_field, "id_field": source.id_field}
    wanted |= {
        "text_field" if isinstance(source.text_field, str) else f"text_field[{i}]": name
        for i, name in enumerate(source.text_fields)
    }
    wanted |= {f"keep_fields[{i}]": name for i, name in enumerate(source.keep_fields)}
    for key, name in wanted.items():
        if name is not None and name not in present:
            raise StageError(
                f"source '{source.name}': field '{name}' ({key}) is not in {source.path}; "
                f"fields present: {', '.join(printable(f) for f in sorted(present))}"
            )


def to_rows(source: Source, records: list[Record]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical rows and rejects from one source's records."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    seen_keys: Counter[str] = Counter()
    label_field = "label" if source.format == "text_dir" and source.label_from_dir else source.label_field
    text_fields = source.text_fields

    def drop(record: Record, reason: str, detail: str | None = None) -> None:
        raw = record.raw if record.raw is not None else json.dumps(record.fields, ensure_ascii=False, default=str)
        dropped.append(
            reject(
                "ingest", reason, source=source.name, location=record.location, detail=detail or record.detail, raw=raw
            )
        )

    for record in records:
        if record.reason is not None:
            drop(record, record.reason)
            continue
        fields = record.fields or {}
        text, why = select_text(fields, text_fields)
        if text is None:
            drop(record, *why)
            continue
        raw_label = fields.get(label_field) if label_field else None
        if isinstance(raw_label, (dict, list, tuple)):  # `[1]` is no class: as_text would make it the string "[1]"
            drop(
                record,
                "label_not_scalar",
                f"field '{label_field}' holds a {type(raw_label).__name__}, not one label (a string, number or "
                "boolean); write one label per row, or split multi-label rows before ingest",
            )
            continue
        label = as_text(raw_label)
        kept_values = {name: as_text(fields.get(name)) for name in source.keep_fields}
        bad = _first_unencodable({"label": label, **kept_values})
        if bad is not None:
            drop(record, "invalid_unicode", f"field '{bad}' holds a lone surrogate (e.g. a JSON escape \\ud800)")
            continue
        own_id = as_text(fields.get(source.id_field)) if source.id_field else None
        key, why = row_key(own_id, source.id_field, text, label, seen_keys)
        if key is None:
            drop(record, *why)
            continue
        row = {
            "id": row_id(source.name, key),
            "text": text,
            "label": label,
            "source": source.name,
            "location": storable(record.location),
        }
        row |= kept_values
        kept.append(row)
    return kept, dropped


def _first_unencodable(values: dict[str, str | None]) -> str | None:
    """The name of the first value that is not valid Unicode (Parquet could not store it), else None."""
    for name, value in values.items():
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return name
    return None
