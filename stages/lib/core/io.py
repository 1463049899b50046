"""Atomic, deterministic writes: a killed stage leaves the old output or none, never half a file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    Works for files and folders. The temporary sits in the same directory so the
    final rename is atomic on POSIX; on any exception it is removed and the old
    `target` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)) / target.name
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_parquet(table: pa.Table, target: str | Path) -> None:
    """Write a table atomically and byte-deterministically (no timestamps, fixed settings)."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=True)


def write_parquets(tables: Mapping[str | Path, pa.Table]) -> None:
    """Write several tables so that either all are replaced or, on failure, none is.

    Each is first written beside its target; the renames happen only after every
    write has succeeded.
    """
    with contextlib.ExitStack() as stack:
        for target, table in tables.items():
            tmp = stack.enter_context(atomic_path(target))
            pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=True)


def write_json(data: Any, target: str | Path) -> None:
    """Write JSON atomically with sorted keys, so `dvc metrics diff` and git diffs stay stable."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_rows(path: str | Path) -> pa.Table:
    """Read a Parquet rows file written by an earlier stage."""
    return pq.read_table(path)
