"""Fuzz: whatever bytes or structures a source holds, ingest ends in rows + counted rejects or a StageError.

Never another exception, and `rows_in == rows_out + sum(dropped)` whenever it writes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from schemas.ingest import IngestParams
from schemas.paths import IngestPaths
from stages import ingest
from stages.lib.core.errors import StageError

from ..fuzz import FUZZ, delimited_text, dumps, json_lines, json_values, objects

FORMATS = ["csv", "tsv", "jsonl", "json", "text", "parquet"]
source_options = st.fixed_dictionaries(
    {
        "label_field": st.sampled_from([None, "label"]),
        "id_field": st.sampled_from([None, "id"]),
        "keep_fields": st.sampled_from([[], ["meta"]]),
        "encoding": st.sampled_from(["utf-8", "latin-1"]),
        "allow_empty": st.booleans(),
    }
)


def run(root: Path, data: bytes, fmt: str, options: dict[str, Any]) -> None:
    (root / "input.dat").write_bytes(data)
    if fmt == "text":
        options = {k: v for k, v in options.items() if k in ("encoding", "allow_empty")}
    cfg = IngestParams(sources={"fuzz": {"path": "input.dat", "format": fmt, **options}}, max_reject_fraction=1)
    out = root / "out"
    paths = IngestPaths(rows=str(out / "rows.parquet"), rejects=str(out / "rejects.parquet"), metrics="m.json")
    try:
        metrics = ingest.run(cfg, paths, root=root)
    except StageError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    rows, rejects = pq.read_table(paths.rows), pq.read_table(paths.rejects)
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())
    assert rows.num_rows == metrics["rows_out"] and rejects.num_rows == sum(metrics["dropped"].values())
    assert all(isinstance(t, str) and t.strip() for t in rows.column("text").to_pylist())


@FUZZ
@given(data=st.binary(max_size=400), fmt=st.sampled_from(FORMATS), options=source_options)
def test_arbitrary_bytes(tmp_path, data, fmt, options):
    run(tmp_path, data, fmt, options)


@FUZZ
@given(
    header=st.lists(st.sampled_from(["text", "label", "id", "meta"]) | delimited_text, min_size=1, max_size=4),
    body=st.lists(st.lists(delimited_text, max_size=5), max_size=6),
    fmt=st.sampled_from(["csv", "tsv"]),
    options=source_options,
)
def test_delimited_tables(tmp_path, header, body, fmt, options):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="," if fmt == "csv" else "\t")
    for row in [header, *body]:
        writer.writerow(row)
    run(tmp_path, buffer.getvalue().encode("utf-8"), fmt, options)


@FUZZ
@given(
    values=st.lists(objects | json_values, max_size=6),
    junk=st.lists(st.text(max_size=20), max_size=2),
    as_array=st.booleans(),
    options=source_options,
)
def test_json_structures(tmp_path, values, junk, as_array, options):
    data = dumps(values).encode("utf-8", "surrogatepass") if as_array else json_lines(values, junk)
    run(tmp_path, data, "json" if as_array else "jsonl", options)


column_values = st.one_of(
    st.lists(st.none() | st.text(max_size=10), min_size=1, max_size=6),
    st.lists(st.none() | st.integers(-(2**62), 2**62), min_size=1, max_size=6),
    st.lists(st.none() | st.floats(allow_nan=True), min_size=1, max_size=6),
    st.lists(st.none() | st.booleans(), min_size=1, max_size=6),
    st.lists(st.none() | st.binary(max_size=6), min_size=1, max_size=6),
    st.lists(st.none() | st.lists(st.integers(0, 9), max_size=3), min_size=1, max_size=6),
)


@FUZZ
@given(columns=st.dictionaries(st.sampled_from(["text", "label", "id", "meta"]), column_values, min_size=1))
def test_parquet_tables(tmp_path, columns):
    n = min(len(v) for v in columns.values())
    buffer = io.BytesIO()
    pq.write_table(pa.table({k: v[:n] for k, v in columns.items()}), buffer)
    options = {"label_field": "label" if "label" in columns else None, "id_field": "id" if "id" in columns else None}
    run(tmp_path, buffer.getvalue(), "parquet", options | {"keep_fields": ["meta"] if "meta" in columns else []})
