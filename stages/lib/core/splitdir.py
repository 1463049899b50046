"""The split folder contract shared by augment and balance: four Parquet files, only train rewritten.

`data/split/`, `data/augmented/` and `data/balanced/` each hold train, validation,
test and unlabeled Parquet files. The stages after split touch train only; the
other three are copied byte for byte, so every evaluation number is computed on
exactly the rows split wrote.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas.rows import ROW_COLUMNS
from stages.lib.core import rejects
from stages.lib.core.exceptions import StageError
from stages.lib.core.folders import SPLITS
from stages.lib.core.io import atomic_path, read_rows, write_table

PASSTHROUGH = ("validation", "test", "unlabeled")
PROVENANCE_FIELDS = (pa.field("origin_id", pa.string()), pa.field("aug_op", pa.string()))


def check_split_dir(folder: str | Path) -> Path:
    """The folder, after checking that all four files are there (StageError naming the missing ones)."""
    folder = Path(folder)
    missing = [f"{name}.parquet" for name in SPLITS if not (folder / f"{name}.parquet").is_file()]
    if missing:
        raise StageError(f"{folder} lacks {', '.join(missing)}; run the stage that writes it first (dvc repro)")
    return folder


def read_train(folder: Path) -> pa.Table:
    """train.parquet with the canonical columns and `origin_id`/`aug_op` (added as nulls when absent)."""
    table = read_rows(folder / "train.parquet")
    missing = [c for c in ROW_COLUMNS if c not in table.column_names]
    if missing:
        raise StageError(f"{folder / 'train.parquet'} lacks columns {missing}; it has {table.column_names}")
    for f in PROVENANCE_FIELDS:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(len(table), f.type))
    return table


def texts(folder: Path, names: Iterable[str]) -> set[str]:
    """Every text of the named split files."""
    out: set[str] = set()
    for name in names:
        out.update(read_rows(folder / f"{name}.parquet").column("text").to_pylist())
    return out


def to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows sorted by id as a table with `schema` (byte-deterministic output)."""
    return pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]), schema=schema)


def row_rejects(stage: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Dropped rows as a rejects table (via `stages.lib.core.rejects`); each row carries `_reason`, maybe `_detail`."""
    out = [
        rejects.reject(
            stage,
            r["_reason"],
            source=r.get("source"),
            row_id=r["id"],
            detail=r.get("_detail") or f"{r.get('aug_op') or 'original'} of {r.get('origin_id') or r['id']}",
            raw=r["text"],
        )
        for r in rows
    ]
    return rejects.rejects_table(out, sort_key=lambda r: (r["reason"], r["id"]))


def write_split_dir(
    target: str | Path, source: Path, tables: Mapping[str, pa.Table], jsons: Mapping[str, Any] | None = None
) -> None:
    """Write the whole folder at once: `tables` (name -> table), JSON files, and byte copies of the others.

    The folder is built beside the target and renamed over it, so a failure
    leaves the previous folder as it was.
    """
    with atomic_path(target) as tmp:
        tmp.mkdir()
        for name in PASSTHROUGH:
            if name not in tables:
                shutil.copyfile(source / f"{name}.parquet", tmp / f"{name}.parquet")
        for name, table in tables.items():
            write_table(table, tmp / f"{name}.parquet")
        for name, data in (jsons or {}).items():
            (tmp / name).write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
