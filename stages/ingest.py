"""ingest: read every configured source into one table of canonical rows.

Output rows have `id`, `text`, `label`, `source`, `location` plus the kept
fields, sorted by id. Anything unreadable goes to the rejects file with its
source, location and reason; `rows_in == rows_out + sum(dropped)` always.

`python -m stages.ingest --inspect FILE` sniffs a new file and prints a source
block and `label.classes` ready to paste into params.yaml.

With `engine: ray` the input files are read in parallel on Ray (stages/lib/engine/ingest.py); same bytes out.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.engine import EngineParams
from schemas.ingest import IMPLICIT_TEXT_FORMATS, TEXT_JOIN, IngestParams, Source
from schemas.paths import IngestPaths
from schemas.rows import ROW_FIELDS
from stages.lib.core.errors import StageError, cli
from stages.lib.core.ids import content_key, row_id
from stages.lib.core.io import write_parquets
from stages.lib.core.log import get_logger, progress
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import reject, rejects_table, storable
from stages.lib.core.values import as_text
from stages.lib.engine import ingest as on_ray
from stages.lib.engine.session import ray_session
from stages.lib.ingest.readers import Record, read_source

log = get_logger("ingest")

# What `dvc metrics show` lists; every counter (per source, per reason, per label) is in the details file.
HEADLINE = ("rows_in", "rows_out")

# Every reason a row can be dropped here; all are written (zeros too) so metric keys stay stable.
REASONS = (
    "blank_line",
    "decode_error",
    "duplicate_id",
    "empty_text",
    "invalid_unicode",
    "malformed_json",
    "missing_id",
    "missing_text",
    "not_an_object",
    "parse_error",
    "text_not_string",
    "wrong_column_count",
)


def run(
    cfg: IngestParams, paths: IngestPaths, root: Path = Path("."), engine: EngineParams | None = None
) -> dict[str, Any]:
    """Read all sources, write rows and rejects atomically, return the metrics.

    `engine` (default local) says where the files are read; the outputs do not depend on it.

    Raises StageError, before writing anything, when a source is missing, names
    a field that does not exist, or has more bad rows than `max_reject_fraction`.
    """
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    per_source: dict[str, Any] = {}
    read_on_ray = None
    if engine is not None and engine.kind == "ray":
        with ray_session(engine.ray.address, engine.ray.num_cpus) as cpus:
            read_on_ray = on_ray.read_sources(list(cfg.sources.values()), root, cpus)
    for k, source in enumerate(cfg.sources.values()):
        if read_on_ray is not None:
            records = read_on_ray[k]
        else:
            records = list(progress(read_source(source, root), desc=f"read {source.name}", unit="rows"))
        check_fields(source, records)
        kept, dropped = to_rows(source, records)
        counts = Counter(r["reason"] for r in dropped)
        per_source[source.name] = _counts(len(records), len(kept), counts)
        log.info(
            "read %d rows from %s (%s): kept %d, dropped %s",
            len(records),
            source.path,
            source.name,
            len(kept),
            dict(counts) or "none",
        )
        if records and len(dropped) / len(records) > cfg.max_reject_fraction:
            examples = "; ".join(f"{r['location']}: {r['reason']}" for r in dropped[:3])
            raise StageError(
                f"source '{source.name}': {len(dropped)} of {len(records)} rows could not be read "
                f"({len(dropped) / len(records):.1%} > ingest.max_reject_fraction={cfg.max_reject_fraction}); "
                f"reasons {dict(counts)}; e.g. {examples}. Check format, delimiter, quoting and encoding. "
                "Previous outputs were left untouched."
            )
        rows.extend(kept)
        rejects.extend(dropped)

    extra = sorted({k for r in rows for k in r} - {f.name for f in ROW_FIELDS} - {"location"})
    schema = pa.schema([*ROW_FIELDS, pa.field("location", pa.string())] + [pa.field(k, pa.string()) for k in extra])
    rows.sort(key=lambda r: r["id"])
    table = pa.Table.from_pylist(rows, schema=schema)
    write_parquets({paths.rows: table, paths.rejects: rejects_table(rejects)})
    log.info("wrote %d rows to %s and %d rejects to %s", len(rows), paths.rows, len(rejects), paths.rejects)

    total = Counter(r["reason"] for r in rejects)
    metrics = _counts(sum(s["rows_in"] for s in per_source.values()), len(rows), total)
    metrics["sources"] = per_source
    metrics["labels"] = dict(sorted(Counter(r["label"] or "<none>" for r in rows).items()))
    return metrics


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
                f"fields present: {', '.join(sorted(present))}"
            )


def to_rows(source: Source, records: list[Record]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical rows and rejects from one source's records."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    seen_keys: Counter[str] = Counter()
    label_field = "label" if source.format == "text_dir" and source.label_from_dir else source.label_field
    text_fields = ["text"] if source.format in IMPLICIT_TEXT_FORMATS else source.text_fields

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
        absent = [f for f in text_fields if f not in fields]
        if absent:
            drop(record, "missing_text", f"no field '{absent[0]}'")
            continue
        parts = [fields[f] for f in text_fields]
        odd = [p for p in parts if p is not None and not isinstance(p, str)]
        if odd:
            # a number, boolean, NaN or object kept as "12345", "True", "nan" would be a made-up text
            drop(record, "text_not_string", f"{type(odd[0]).__name__} {_short(odd[0])}")
            continue
        # Several text fields (subject, body) are joined with a blank line; an empty one is left out.
        text = TEXT_JOIN.join(p for p in parts if p and p.strip()) if len(parts) > 1 else (parts[0] or "")
        if not text.strip():
            drop(record, "empty_text")
            continue
        label = as_text(fields.get(label_field)) if label_field else None
        kept_values = {name: as_text(fields.get(name)) for name in source.keep_fields}
        bad = _first_unencodable({"text": text, "label": label, **kept_values})
        if bad is not None:
            drop(record, "invalid_unicode", f"field '{bad}' holds a lone surrogate (e.g. a JSON escape \\ud800)")
            continue
        if source.id_field is not None:
            own_id = as_text(fields.get(source.id_field))
            if own_id is None:
                drop(record, "missing_id", f"no value in '{source.id_field}'")
                continue
            if _first_unencodable({source.id_field: own_id}) is not None:
                drop(record, "invalid_unicode", f"field '{source.id_field}' holds a lone surrogate")
                continue
            key = f"id:{own_id}"
            if seen_keys[key]:
                drop(record, "duplicate_id", f"{source.id_field}={own_id} seen before")
                continue
        else:
            base = content_key(text, label, 0)
            key = content_key(text, label, seen_keys[base])
            seen_keys[base] += 1
        seen_keys[key] += 1
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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _counts(rows_in: int, rows_out: int, dropped: Counter[str]) -> dict[str, Any]:
    return {"rows_in": rows_in, "rows_out": rows_out, "dropped": {r: dropped.get(r, 0) for r in REASONS}}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--inspect":
        from stages.lib.ingest.inspect import inspect

        print(inspect(Path(sys.argv[2])))
        return
    if len(sys.argv) > 1:
        raise StageError("usage: python -m stages.ingest [--inspect FILE_OR_FOLDER]")
    params = load_params()
    if params.task == "sft":  # conversations: stages/lib/chat/ingest.py
        from stages.lib.chat import ingest as chat

        metrics = chat.run(params.ingest, params.paths.ingest)
    else:
        metrics = run(params.ingest, params.paths.ingest, engine=params.engine)
    write_metrics(metrics, HEADLINE, params.paths.ingest.metrics, params.paths.ingest.details)


if __name__ == "__main__":
    cli(main)
