"""The one reject record: every column, storable strings, optional sort."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from schemas.rows import REJECT_FIELDS
from stages.lib.core.rejects import reject, rejects_table


def test_record_has_every_column_and_lone_surrogates_become_escapes():
    record = reject("ingest", "invalid_unicode", source="s", location="a.jsonl:3", raw='{"text": "\ud800"}')
    assert list(record) == [f.name for f in REJECT_FIELDS]
    assert record["raw"] == '{"text": "\\ud800"}' and record["id"] is None
    buffer = io.BytesIO()
    pq.write_table(rejects_table([record]), buffer)  # would raise on the unescaped surrogate
    assert pq.read_table(buffer).to_pylist() == [record]


def test_table_keeps_order_unless_a_sort_key_is_given():
    records = [reject("split", reason, row_id=i) for reason, i in (("b", "1"), ("a", "2"), ("a", "0"))]
    assert rejects_table(records).column("id").to_pylist() == ["1", "2", "0"]
    by_reason = rejects_table(records, sort_key=lambda r: (r["reason"], r["id"]))
    assert by_reason.column("id").to_pylist() == ["0", "2", "1"]
    assert rejects_table([]).num_rows == 0 and rejects_table([]).schema.names == [f.name for f in REJECT_FIELDS]
