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
from stages.lib.core.encoding import decode, escape_bad_bytes, has_bad_bytes, lines
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


def glob(base: Path, pattern: str, what: str) -> list[Path]:
    """`base.glob(pattern)`, sorted; a pattern pathlib refuses (absolute, empty) is a StageError naming `what`."""
    try:
        return sorted(base.glob(pattern))
    except (NotImplementedError, ValueError) as exc:
        raise StageError(
            f"{what}: pattern '{pattern}' cannot be used ({exc}); write a relative glob such as '**/*.txt'"
        ) from None


class NoFiles(StageError):
    """A source names no file at all (nothing arrived); a refused file is a plain StageError, never this."""


def resolve_files(source: Source, root: Path) -> list[Path]:
    """The files a source names (file, folder or glob), sorted, each checked to stay inside `root`.

    Raises NoFiles when nothing matches, StageError when a match is refused (outside `root`).
    """
    root = root.resolve()
    if any(ch in source.path for ch in "*?["):
        found = glob(root, source.path, f"source '{source.name}'")
        matches = [p for p in found if p.is_file() or source.format == "hf_disk"]
    else:
        target = root / source.path
        if not target.exists():
            raise NoFiles(f"source '{source.name}': {source.path} does not exist (relative to {root})")
        if target.is_dir() and source.format not in ("text_dir", "hf_disk"):
            matches = sorted(p for p in target.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            matches = [target]
    if not matches:
        raise NoFiles(f"source '{source.name}': no file matches {source.path} (relative to {root})")
    for path in matches:
        inside_repo(path, f"ingest source '{source.name}' (path: {source.path})", root)
        if source.format == "hf_disk" and path.is_dir():  # the dataset's own files are opened too
            for inner in path.rglob("*"):
                inside_repo(inner, f"ingest source '{source.name}' (path: {source.path})", root)
    return matches


def read_delimited(path: Path, source: Source, rel: str) -> Iterator[Record]:
    delimiter = source.delimiter or ("\t" if source.format == "tsv" else ",")
    quoting = csv.QUOTE_NONE if source.quoting == "none" else csv.QUOTE_MINIMAL
    text = decode(path.read_bytes(), source.encoding, f"source '{source.name}': {rel}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=False)
    columns = source.columns
    start = 0
    if source.header:
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise StageError(f"source '{source.name}': {rel}: the header line cannot be read ({exc})") from None
        if header is None:
            return
        columns = source.columns or [c.strip() for c in header]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated and not source.columns:
            raise StageError(
                f"source '{source.name}': {rel} repeats column name(s) {repeated} in its header, so one would "
                "silently replace the other; rename them in the file, or set `columns` to name every column"
            )
        start = reader.line_num
    # The physical lines as the csv reader counts them, to re-check records that span several of them.
    physical = io.StringIO(text, newline="").readlines() if quoting != csv.QUOTE_NONE else []
    spanning = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field over csv's size limit, a NUL byte...: this record only
            yield Record(f"{rel}:{start + 1}", reason="parse_error", detail=str(exc), raw="")
            start = reader.line_num
            continue
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
    for number, line in lines(decode(path.read_bytes(), source.encoding, f"source '{source.name}': {rel}")):
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
            except (ValueError, RecursionError) as exc:  # also the parser's limits: integer digits, nesting depth
                yield Record(where, reason="malformed_json", detail=str(exc) or type(exc).__name__, raw=line)
                continue
            if isinstance(obj, dict):
                yield Record(where, fields=obj)
            else:
                yield Record(where, reason="not_an_object", detail=type(obj).__name__, raw=line)


def read_json(path: Path, source: Source, rel: str) -> Iterator[Record]:
    text = decode(path.read_bytes(), source.encoding, f"source '{source.name}': {rel}")
    if has_bad_bytes(text):
        raise StageError(f"source '{source.name}': {rel} is not valid {source.encoding}; set `encoding`")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
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
            yield Record(where, reason="not_an_object", detail=type(obj).__name__, raw=_dump(obj))


def _dump(obj: Any) -> str:
    return json.dumps(obj, default=str)[:10_000]


def read_text(path: Path, source: Source, rel: str) -> Iterator[Record]:
    for number, line in lines(decode(path.read_bytes(), source.encoding, f"source '{source.name}': {rel}")):
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
    found = glob(folder, source.pattern, f"source '{source.name}'")
    files = [p for p in found if p.is_file() and not p.name.startswith(".")]
    if not files:
        raise StageError(f"source '{source.name}': no file in {folder} matches pattern '{source.pattern}'")
    for path in files:
        inside_repo(path, f"ingest source '{source.name}' (path: {source.path}, pattern: {source.pattern})", root)
        rel = str(path.relative_to(root))
        text = decode(path.read_bytes(), source.encoding, f"source '{source.name}': {rel}")
        if has_bad_bytes(text):
            yield Record(
                rel, reason="decode_error", detail=f"not valid {source.encoding}", raw=escape_bad_bytes(text[:10_000])
            )
            continue
        fields: dict[str, Any] = {"text": text.strip("\n"), "path": str(path.relative_to(folder))}
        if source.label_from_dir:
            fields["label"] = path.parent.name if path.parent != folder else None
        yield Record(rel, fields=fields)


def _parquet_rows(path: Path, source: Source, rel: str) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise StageError(
            f"source '{source.name}': {rel} cannot be read as Parquet ({exc}); is `format: {source.format}` right?"
        ) from None


def read_parquet(path: Path, source: Source, rel: str) -> Iterator[Record]:
    for index, obj in enumerate(_parquet_rows(path, source, rel)):
        yield Record(f"{rel}#{index}", fields=obj)


def read_hf_disk(path: Path, source: Source, rel: str) -> Iterator[Record]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path), keep_in_memory=True)
    except (FileNotFoundError, NotADirectoryError, OSError, ValueError, KeyError) as exc:
        raise StageError(
            f"source '{source.name}': {rel} is not a dataset saved with `datasets.save_to_disk` ({exc}); "
            "point `path` at the folder save_to_disk wrote, or pick the format that matches the files"
        ) from None
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
    try:
        columns = pq.read_schema(path).names
    except (OSError, ValueError) as exc:
        raise StageError(f"source '{source.name}': {rel} cannot be read as Parquet ({exc})") from None
    wanted = [("url", None), (source.id_field, "id_field"), *((f, "text_field") for f in source.text_fields)]
    for needed, key in wanted:
        if needed is not None and needed not in columns:
            what = f"`{key}: {needed}`" if key else "the page url"
            raise StageError(
                f"source '{source.name}': snapshot {rel} has no column '{needed}' ({what}); its columns: "
                f"{', '.join(columns)}. Rerun `dvc repro collect`, or set {key or 'the field'} to one of them"
            )
    for obj in _parquet_rows(path, source, rel):
        yield Record(obj["url"] or rel, fields=obj)


def read_source(source: Source, root: Path) -> Iterator[Record]:
    """Every record of one source, in file order."""
    root = root.resolve()
    for path in resolve_files(source, root):
        rel = str(path.relative_to(root))
        records = (
            read_text_dir(path, source, root)
            if source.format == "text_dir"
            else READERS[source.format](path, source, rel)
        )
        count = 0
        for record in records:
            count += 1
            yield record
        if not count and not source.allow_empty:
            raise StageError(
                f"source '{source.name}': {rel} holds no records (empty, or a header line only), which would "
                "replace this source's rows with none; check the file, or set `allow_empty: true` on the source"
            )


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
