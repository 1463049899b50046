"""ingest for conversations (task: sft): every source's records to conversation rows, or counted rejects.

Rows: `id` (row_id of the source and the conversation, or of the record's own id), `source`, `messages`,
`text` (conversation_text), `label` (null), `location`, `format` and the kept fields, sorted by id.
The files are read by the classification readers (jsonl, json, parquet, text), so decoding, JSON errors
and blank lines are the same rejects there and here. `rows_in == rows_out + sum(dropped)` per source.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas.chat import ChatIngestParams, ChatSource
from schemas.paths import IngestPaths
from schemas.rows import ROW_FIELDS
from stages.lib.chat.conversation import MESSAGES_TYPE, BadConversation, check_turns, conversation_text
from stages.lib.chat.conversation import REASONS as SHAPE_REASONS
from stages.lib.chat.formats import read_turns
from stages.lib.core.errors import StageError
from stages.lib.core.ids import row_id, row_key
from stages.lib.core.io import write_parquets
from stages.lib.core.rejects import reject, rejects_table, storable
from stages.lib.core.values import as_text
from stages.lib.ingest.readers import READERS, Record, resolve_files

# Every reason a record can be dropped; all are written (zeros too) so metric keys stay stable.
REASONS = (
    "blank_line",
    "decode_error",
    "duplicate_id",
    "invalid_unicode",
    "malformed_json",
    "missing_field",
    "missing_id",
    "not_a_conversation",
    "not_an_object",
    *SHAPE_REASONS,
)

ROW_SCHEMA_HEAD = (
    *ROW_FIELDS[:2],  # id, text
    pa.field("messages", MESSAGES_TYPE, nullable=False),
    *ROW_FIELDS[2:],  # label, source
    pa.field("location", pa.string()),
    pa.field("format", pa.string()),
)


def read_records(source: ChatSource, root: Path) -> list[Record]:
    """Every record of a source in file order (the classification readers, chosen by `file_format`)."""
    records = []
    for path in resolve_files(source, root.resolve()):  # type: ignore[arg-type]  # the fields it reads are shared
        rel = str(path.relative_to(root.resolve()))
        found = list(READERS[str(source.file_format)](path, source, rel))  # type: ignore[arg-type]
        if not found and not source.allow_empty:
            raise StageError(
                f"source '{source.name}': {rel} holds no records; check the file, or set `allow_empty: true`"
            )
        records.extend(found)
    return records


def to_rows(source: ChatSource, records: list[Record], cfg: ChatIngestParams) -> tuple[list[dict], list[dict]]:
    """Conversation rows and rejects from one source's records."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    role_key, content_key_ = source.turn_keys()
    roles = source.role_names()
    columns = source.columns.model_dump()
    if source.file_format == "text":
        columns["text"] = "text"  # the text reader names its one field `text`

    def drop(record: Record, reason: str, detail: str | None = None) -> None:
        raw = record.raw if record.raw is not None else json.dumps(record.fields, ensure_ascii=False, default=str)
        dropped.append(reject("ingest", reason, source=source.name, location=record.location, detail=detail, raw=raw))

    for record in records:
        if record.reason is not None:
            drop(record, record.reason, record.detail)
            continue
        fields = record.fields or {}
        try:
            turns = read_turns(
                fields,
                source.format,
                columns=columns,
                role_key=role_key,
                content_key=content_key_,
                roles=roles,
                content_parts=cfg.content_parts,
            )
            turns = check_turns(
                turns,
                merge_consecutive=cfg.merge_consecutive,
                max_turns=cfg.max_turns,
                max_chars=cfg.max_chars,
                plain=source.format == "text",
            )
        except BadConversation as exc:
            drop(record, exc.reason, exc.detail)
            continue
        text = conversation_text(turns)
        kept_values = {name: as_text(fields.get(name)) for name in source.keep_fields}
        if any(storable(v) != v for v in (text, *kept_values.values())):
            drop(record, "invalid_unicode", "a value holds a lone surrogate (e.g. a JSON escape \\ud800)")
            continue
        own_id = as_text(fields.get(source.id_field)) if source.id_field else None
        key, why = row_key(own_id, source.id_field, text, None, seen)
        if key is None:
            drop(record, *why)
            continue
        row = {
            "id": row_id(source.name, key),
            "text": text,
            "messages": turns,
            "label": None,
            "source": source.name,
            "location": storable(record.location),
            "format": source.format,
        }
        kept.append(row | kept_values)
    return kept, dropped


def counts(rows_in: int, rows_out: int, dropped: Counter[str]) -> dict[str, Any]:
    return {"rows_in": rows_in, "rows_out": rows_out, "dropped": {r: dropped.get(r, 0) for r in REASONS}}


def run(cfg: ChatIngestParams, paths: IngestPaths, root: Path = Path(".")) -> dict[str, Any]:
    """Read all sources, write rows and rejects atomically, return the metrics.

    Raises StageError, before writing anything, when a source is missing or empty or has more rejects than
    `ingest.max_reject_fraction`.
    """
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    per_source: dict[str, Any] = {}
    for source in cfg.sources.values():
        records = read_records(source, root)
        kept, dropped = to_rows(source, records, cfg)
        reasons = Counter(r["reason"] for r in dropped)
        per_source[source.name] = counts(len(records), len(kept), reasons)
        if records and len(dropped) / len(records) > cfg.max_reject_fraction:
            examples = "; ".join(f"{r['location']}: {r['reason']} ({r['detail']})" for r in dropped[:3])
            raise StageError(
                f"source '{source.name}': {len(dropped)} of {len(records)} records rejected "
                f"({len(dropped) / len(records):.1%} > ingest.max_reject_fraction={cfg.max_reject_fraction}); "
                f"reasons {dict(reasons)}; e.g. {examples}. Check `format`, `columns`, `roles`. "
                "Previous outputs were left untouched."
            )
        rows.extend(kept)
        rejects.extend(dropped)
    extra = sorted({k for r in rows for k in r} - {f.name for f in ROW_SCHEMA_HEAD})
    schema = pa.schema([*ROW_SCHEMA_HEAD, *(pa.field(k, pa.string()) for k in extra)])
    rows.sort(key=lambda r: r["id"])
    write_parquets({paths.rows: pa.Table.from_pylist(rows, schema=schema), paths.rejects: rejects_table(rejects)})
    total = Counter(r["reason"] for r in rejects)
    metrics = counts(sum(s["rows_in"] for s in per_source.values()), len(rows), total)
    metrics["sources"] = per_source
    metrics["turns"] = dict(sorted(Counter(m["role"] for r in rows for m in r["messages"]).items()))
    metrics["multi_turn"] = sum(sum(m["role"] == "assistant" for m in r["messages"]) > 1 for r in rows)
    return metrics
