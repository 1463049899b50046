"""The clean stage's second pass: stream the part files in order, write the surviving rows and every reject.

Both outputs are sorted by id (the input is, and the parts keep its order); every dropped row is counted by
reason, so `rows_in == rows_out + sum(dropped)`.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import ExitStack
from typing import Any

import numpy as np
import pyarrow as pa

from stages.lib.clean import filters
from stages.lib.clean.batch import BatchResult
from stages.lib.clean.clusters import KEEP, LABEL_CONFLICT, STATUS_REASON, Decisions
from stages.lib.clean.parts import read_ipc
from stages.lib.core.io import atomic_path, parquet_writer, together
from stages.lib.core.log import progress
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.text.normalize import STEP_NAMES
from stages.lib.text.pii import KINDS

# Every reason a row can be dropped here; all are written (zeros too) so metric keys stay stable.
REASONS = (*filters.REASONS, "exact_dup", "near_dup", "label_conflict")


def write_outputs(
    rows_path: str,
    rejects_path: str,
    results: list[BatchResult],
    decisions: Decisions,
    ids: pa.ChunkedArray,
    names: list[str],
) -> dict[str, Any]:
    """Stream the parts in order: write surviving rows and all rejects, both sorted by id; count everything."""
    dropped: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    pii_counts: Counter[str] = Counter()
    rows_in = rows_out = pii_rows = 0
    offset = 0
    with together(), ExitStack() as stack:
        rows_tmp = stack.enter_context(atomic_path(rows_path))
        rejects_tmp = stack.enter_context(atomic_path(rejects_path))
        rows_writer = rejects_writer = None
        for r in progress(results, desc="write", unit="batch"):
            rows_in += r.rows_in
            dropped.update(r.dropped)
            changed.update(r.changed)
            pii_counts.update(r.pii)
            pii_rows += r.pii_rows
            kept = read_ipc(r.kept_path)
            sl = slice(offset, offset + kept.num_rows)
            status = decisions.status[sl]
            keep = status == KEEP
            label = [names[c] if c >= 0 else None for c in decisions.label[sl]]
            kept = kept.set_column(
                kept.schema.get_field_index("label"), pa.field("label", pa.string()), pa.array(label, pa.string())
            )
            out = kept.filter(pa.array(keep))
            out = out.append_column(
                pa.field("dup_cluster", pa.string(), nullable=False), ids.take(pa.array(decisions.primary[sl][keep]))
            )
            out = out.append_column(
                pa.field("dup_count", pa.int64(), nullable=False),
                pa.array(decisions.cluster_size[sl][keep], pa.int64()),
            )
            rows_writer = rows_writer or parquet_writer(rows_tmp, out.schema)
            rows_writer.write_table(out)
            rows_out += out.num_rows

            removed = np.flatnonzero(~keep)
            dup_rejects = _dedup_rejects(kept, removed, status, decisions, ids, offset)
            for reason in dup_rejects.column("reason").to_pylist():
                dropped[reason] += 1
            rejects = pa.concat_tables([read_ipc(r.rejects_path), dup_rejects]).sort_by("id")
            rejects_writer = rejects_writer or parquet_writer(rejects_tmp, rejects.schema)
            rejects_writer.write_table(rejects)
            offset += kept.num_rows
        assert rows_writer is not None and rejects_writer is not None  # the stage refuses an empty input
        rows_writer.close()
        rejects_writer.close()
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "dropped": {reason: dropped.get(reason, 0) for reason in REASONS},
        "changed": {step: changed.get(step, 0) for step in STEP_NAMES},
        "pii": {kind: pii_counts.get(kind, 0) for kind in KINDS},
        "pii_rows": pii_rows,
    }


def _dedup_rejects(
    kept: pa.Table, removed: np.ndarray, status: np.ndarray, decisions: Decisions, ids: pa.ChunkedArray, offset: int
) -> pa.Table:
    """Reject rows for the duplicates and label conflicts of one part; `detail` names the surviving row."""
    records = []
    if len(removed):
        sub = kept.take(pa.array(removed)).to_pydict()
        glob = removed + offset
        survivor_ids = ids.take(pa.array(decisions.survivor[glob])).to_pylist()
        primary_ids = ids.take(pa.array(decisions.primary[glob])).to_pylist()
        for k, g in enumerate(glob.tolist()):
            code = int(status[removed[k]])
            key, target = ("cluster", primary_ids[k]) if code == LABEL_CONFLICT else ("survivor", survivor_ids[k])
            detail = {"cluster_size": int(decisions.cluster_size[g]), key: target}
            records.append(
                reject(
                    "clean",
                    STATUS_REASON[code],
                    source=sub["source"][k],
                    location=sub["location"][k] if "location" in sub else None,
                    row_id=sub["id"][k],
                    detail=json.dumps(detail, sort_keys=True),
                    raw=sub["text_raw"][k],
                )
            )
    return rejects_table(records)
