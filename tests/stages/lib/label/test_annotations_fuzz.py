"""Fuzz: whatever an annotation export holds, label ends in votes + counted rejects or a StageError.

Never another exception; `rows_in == rows_out + sum(dropped)` for rows, and every annotation read is
exactly one of vote, unmatched, rejected or skipped.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from schemas.label import LabelParams
from schemas.paths import LabelPaths
from stages import label
from stages.lib.core.errors import StageError

from ..fuzz import FUZZ, KEYS, WORDS, delimited_text, dumps, json_lines, json_values, objects

FORMATS = [
    "label_studio",
    "label_studio_min",
    "label_studio_csv",
    "argilla",
    "argilla_datasets",
    "doccano",
    "prodigy",
    "csv",
    "jsonl",
]
ROWS = [
    {"id": f"r{n}", "text": text, "label": None, "source": "s", "location": f"s:{n}"}
    for n, text in enumerate(["hello", "spam", "ham", "choices"])
]


def run(root: Path, data: bytes, fmt: str) -> None:
    folder = root / "data" / "annotations"
    folder.mkdir(parents=True, exist_ok=True)
    name = {"argilla": "records.json", "doccano": "alice.jsonl"}.get(fmt, "export.dat")
    (folder / name).write_bytes(data)
    rows_path = root / "rows.parquet"
    if not rows_path.exists():
        pq.write_table(pa.Table.from_pylist(ROWS), rows_path)
    out = root / "out"
    paths = LabelPaths(
        annotations="data/annotations",
        rows=str(out / "rows.parquet"),
        rejects=str(out / "rejects.parquet"),
        unmatched=str(out / "unmatched.parquet"),
        metrics="m.json",
    )
    cfg = LabelParams(
        classes=["ham", "spam"],
        source_labels="ignore",
        max_reject_fraction=1.0,
        keep_unlabeled=True,
        imports=[{"name": "fuzz", "path": f"data/annotations/{name}", "format": fmt, "question": "label"}],
    )
    try:
        metrics = label.run(cfg, paths, rows_path, root=root)
    except StageError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())
    counts = metrics["annotations"]["imports"]["fuzz"]
    parts = counts["votes"] + counts["unmatched"] + sum(counts["rejected"].values()) + sum(counts["skipped"].values())
    assert counts["read"] == parts
    assert pq.read_table(paths.rows).num_rows == metrics["rows_out"]


@FUZZ
@given(data=st.binary(max_size=300), fmt=st.sampled_from(FORMATS))
def test_arbitrary_bytes(tmp_path, data, fmt):
    run(tmp_path, data, fmt)


@FUZZ
@given(
    values=st.lists(objects, max_size=5),
    junk=st.lists(json_values.map(dumps) | st.text(max_size=10), max_size=2),
    fmt=st.sampled_from([f for f in FORMATS if f not in ("label_studio_csv", "csv")]),
    as_array=st.booleans(),
)
def test_json_structures(tmp_path, values, junk, fmt, as_array):
    data = dumps(values).encode("utf-8", "surrogatepass") if as_array else json_lines(values, junk)
    run(tmp_path, data, fmt)


@FUZZ
@given(
    header=st.lists(st.sampled_from(KEYS) | delimited_text, min_size=1, max_size=4),
    body=st.lists(st.lists(st.sampled_from(WORDS) | delimited_text, max_size=5), max_size=5),
    fmt=st.sampled_from(["label_studio_csv", "csv"]),
)
def test_csv_tables(tmp_path, header, body, fmt):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [header, *body]:
        writer.writerow(row)
    run(tmp_path, buffer.getvalue().encode("utf-8"), fmt)
