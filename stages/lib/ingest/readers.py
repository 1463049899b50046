"""Readers for ingest: each turns one source into records, or into rejects with a reason.

A reader never drops anything silently: every line, row or file it meets comes
out as a `Record`, either with its fields or with a `reason` it could not be read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.ingest import Source
from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger
from stages.lib.core.safety import inside_repo

log = get_logger("ingest")


@dataclass(frozen=True)
class Record:
    """One unit read from a source: its fields, or the reason it could not be read."""

    location: str
    fields: dict[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    raw: str | None = None


def resolve_files(source: Source, root: Path) -> list[Path]:
    """The files a source names (file, folder or glob), sorted, each checked to stay inside `root`."""
    root = root.resolve()
    if any(ch in source.path for ch in "*?["):
        matches = sorted(p for p in root.glob(source.path) if p.is_file() or source.format == "hf_disk")
    else:
        target = root / source.path
        if not target.exists():
            raise StageError(f"source '{source.name}': {source.path} does not exist (relative to {root})")
        if target.is_dir() and source.format not in ("text_dir", "hf_disk"):
            matches = sorted(p for p in target.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            matches = [target]
    if not matches:
        raise StageError(f"source '{source.name}': no file matches {source.path} (relative to {root})")
    for path in matches:
        inside_repo(path, f"ingest source '{source.name}' (path: {source.path})", root)
        if source.format == "hf_disk" and path.is_dir():  # the dataset's own files are opened too
            for inner in path.rglob("*"):
                inside_repo(inner, f"ingest source '{source.name}' (path: {source.path})", root)
    return matches


def decode(data: bytes, encoding: str) -> str:
    """Decode, skipping a UTF-8 BOM; undecodable bytes become lone surrogates found by `has_bad_bytes`."""
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    return data.decode(encoding, errors="surrogateescape")


def has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def escape_bad_bytes(text: str) -> str:
    """Show undecodable bytes as `\\xff` so a rejected line can still be stored and read."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def lines(text: str) -> Iterator[tuple[int, str]]:
    """Split on \\n (and \\r\\n) only; str.splitlines would also split inside a line at U+0085 or U+2028."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    for number, line in enumerate(parts, start=1):
        yield number, line.removesuffix("\r")


def read_delimited(path: Path, source: Source, rel: str) -> Iterator[Record]:
    delimiter = source.delimiter or ("\t" if source.format == "tsv" else ",")
    quoting = csv.QUOTE_NONE if source.quoting == "none" else csv.QUOTE_MINIMAL
    text = decode(path.read_bytes(), source.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=False)
    columns = source.columns
    start = 0
    if source.header:
        header = next(reader, None)
        if header is None:
            return
        columns = source.columns or [c.strip() for c in header]
        start = reader.line_num
    # The physical lines as the csv reader counts them, to re-check records that span several of them.
    physical = io.StringIO(text, newline="").readlines() if quoting != csv.QUOTE_NONE else []
    spanning = 0
    for row in reader:
        where = f"{rel}:{start + 1}"  # the physical line the record starts on
        raw = delimiter.join(row)
        if reader.line_num - start > 1 and physical:
            spanning += not well_quoted("".join(physical[start : reader.line_num]), delimiter)
        start = reader.line_num
        if not row:
            yield Record(where, reason="blank_line")
        elif len(row) != len(columns):
            yield Record(where, reason="wrong_column_count", detail=f"expected {len(columns)}, got {len(row)}", raw=raw)
        elif has_bad_bytes(raw):
            yield Record(where, reason="decode_error", detail=f"not valid {source.encoding}", raw=escape_bad_bytes(raw))
        else:
            yield Record(where, fields=dict(zip(columns, row, strict=True)))
    if spanning:
        log.warning(
            "%s: %d records span several lines inside a quote that is never closed properly; the file probably "
            "does not quote its fields: set `quoting: none` for source '%s' or those lines are merged",
            rel,
            spanning,
            source.name,
        )


def well_quoted(record: str, delimiter: str) -> bool:
    """Whether a multi-line record is one properly quoted CSV record (each quote closed right before a
    delimiter or the line end), as in a CSV whose texts hold newlines. A message that merely starts with a
    quote and swallowed the next lines fails this check."""
    try:
        rows = list(csv.reader(io.StringIO(record, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return len(rows) == 1


def read_jsonl(path: Path, source: Source, rel: str) -> Iterator[Record]:
    for number, line in lines(decode(path.read_bytes(), source.encoding)):
        where = f"{rel}:{number}"
        if not line.strip():
            yield Record(where, reason="blank_line")
        elif has_bad_bytes(line):
            yield Record(
                where, reason="decode_error", detail=f"not valid {source.encoding}", raw=escape_bad_bytes(line)
            )
        else:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Record(where, reason="malformed_json", detail=str(exc), raw=line)
                continue
            if isinstance(obj, dict):
                yield Record(where, fields=obj)
            else:
                yield Record(where, reason="not_an_object", detail=type(obj).__name__, raw=line)


def read_json(path: Path, source: Source, rel: str) -> Iterator[Record]:
    text = decode(path.read_bytes(), source.encoding)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StageError(
            f"source '{source.name}': {rel} is not valid JSON ({exc}); use format jsonl for JSON lines"
        ) from None
    if source.records_key is not None:
        if not isinstance(data, dict) or source.records_key not in data:
            keys = sorted(data) if isinstance(data, dict) else []
            raise StageError(f"source '{source.name}': {rel} has no key '{source.records_key}'; keys: {keys}")
        data = data[source.records_key]
    if not isinstance(data, list):
        raise StageError(f"source '{source.name}': {rel} must hold a list of records (or set records_key)")
    for index, obj in enumerate(data):
        where = f"{rel}[{index}]"
        if isinstance(obj, dict):
            yield Record(where, fields=obj)
        else:
            yield Record(where, reason="not_an_object", detail=type(obj).__name__, raw=json.dumps(obj)[:10_000])


def read_text(path: Path, source: Source, rel: str) -> Iterator[Record]:
    for number, line in lines(decode(path.read_bytes(), source.encoding)):
        where = f"{rel}:{number}"
        if not line.strip():
            yield Record(where, reason="blank_line")
        elif has_bad_bytes(line):
            yield Record(
                where, reason="decode_error", detail=f"not valid {source.encoding}", raw=escape_bad_bytes(line)
            )
        else:
            yield Record(where, fields={"text": line})


def read_text_dir(folder: Path, source: Source, root: Path) -> Iterator[Record]:
    files = sorted(p for p in folder.glob(source.pattern) if p.is_file() and not p.name.startswith("."))
    if not files:
        raise StageError(f"source '{source.name}': no file in {folder} matches pattern '{source.pattern}'")
    for path in files:
        inside_repo(path, f"ingest source '{source.name}' (path: {source.path}, pattern: {source.pattern})", root)
        rel = str(path.relative_to(root))
        text = decode(path.read_bytes(), source.encoding)
        if has_bad_bytes(text):
            yield Record(
                rel, reason="decode_error", detail=f"not valid {source.encoding}", raw=escape_bad_bytes(text[:10_000])
            )
            continue
        fields: dict[str, Any] = {"text": text.strip("\n"), "path": str(path.relative_to(folder))}
        if source.label_from_dir:
            fields["label"] = path.parent.name if path.parent != folder else None
        yield Record(rel, fields=fields)


def read_parquet(path: Path, source: Source, rel: str) -> Iterator[Record]:
    import pyarrow.parquet as pq

    for index, obj in enumerate(pq.read_table(path).to_pylist()):
        yield Record(f"{rel}#{index}", fields=obj)


def read_hf_disk(path: Path, source: Source, rel: str) -> Iterator[Record]:
    import datasets

    loaded = datasets.load_from_disk(str(path), keep_in_memory=True)
    if isinstance(loaded, datasets.DatasetDict):
        splits = [source.split] if source.split else sorted(loaded)
        missing = [s for s in splits if s not in loaded]
        if missing:
            raise StageError(f"source '{source.name}': split {missing[0]!r} not in {rel}; splits: {sorted(loaded)}")
        parts = [(s, loaded[s]) for s in splits]
    else:
        parts = [(None, loaded)]
    for split, dataset in parts:
        for index, obj in enumerate(dataset.to_list()):
            if split is not None:
                obj = {**obj, "hf_split": split}
            yield Record(f"{rel}/{split or ''}#{index}", fields=obj)


def read_collected(path: Path, source: Source, rel: str) -> Iterator[Record]:
    """Pages of a collect snapshot (`<name>/pages.parquet`); each record is located by its page URL."""
    import pyarrow.parquet as pq

    if path.name != "pages.parquet":
        raise StageError(f"source '{source.name}': {rel} is not a collect snapshot (expected */pages.parquet)")
    for obj in pq.read_table(path).to_pylist():
        yield Record(obj["url"], fields=obj)


def read_source(source: Source, root: Path) -> Iterator[Record]:
    """Every record of one source, in file order."""
    root = root.resolve()
    for path in resolve_files(source, root):
        rel = str(path.relative_to(root))
        if source.format == "text_dir":
            yield from read_text_dir(path, source, root)
        else:
            yield from READERS[source.format](path, source, rel)


READERS = {
    "csv": read_delimited,
    "tsv": read_delimited,
    "jsonl": read_jsonl,
    "json": read_json,
    "parquet": read_parquet,
    "text": read_text,
    "hf_disk": read_hf_disk,
    "collected": read_collected,
}
