"""The clean stage's part files: Arrow IPC files that pass 1 writes per batch and pass 2 streams back."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa


def write_ipc(table: pa.Table, path: str) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_ipc(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a part file (memory-mapped: only the columns used are touched)."""
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    return table.select(list(columns)) if columns is not None else table
