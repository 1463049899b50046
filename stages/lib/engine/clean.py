"""The clean stage's two distributed steps on Ray Data; everything else is the local engine's code.

1. `first_pass`: batch k of the input (rows k*B .. (k+1)*B, the very batch the local engine reads) is read
   and cleaned on a worker by the same `BatchCleaner`; the worker's part files travel back as Arrow IPC
   bytes, so the driver holds the same `BatchResult`s, in the same order, as a local run.
2. `candidate_pairs`: the LSH band keys become rows (band, key, row), shuffled by a groupby on a hash of
   the key, so every bucket of the whole corpus meets in one group; each group yields the bucket's star
   pairs (every member with the bucket's smallest row), exactly the pairs `candidate_pairs` of
   stages/lib/text/near_dup.py finds.

Exact groups, verification, connected components and the survivor decisions then run on the driver in
`deduplicate` (stages/lib/clean/dedup.py), the same functions as the local engine, on arrays of a few dozen
bytes per row.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stages.lib.clean.batch import BatchCleaner, BatchResult
from stages.lib.core.ids import ids_increase, unsorted_ids

# Band-key rows per shuffle partition: ~24 bytes each, so a partition is a few tens of MB.
_ROWS_PER_PARTITION = 2_000_000


def read_batch(path: str, index: int, batch_size: int) -> pa.RecordBatch:
    """Rows index*batch_size .. (index+1)*batch_size of a Parquet file, reading only the row groups concerned."""
    source = pq.ParquetFile(path)
    start, stop = index * batch_size, min((index + 1) * batch_size, source.metadata.num_rows)
    groups, first, offset = [], None, 0
    for g in range(source.metadata.num_row_groups):
        size = source.metadata.row_group(g).num_rows
        if offset < stop and offset + size > start:
            groups.append(g)
            first = offset if first is None else first
        offset += size
    table = source.read_row_groups(groups).slice(start - (first or 0), stop - start)
    return table.combine_chunks().to_batches(max_chunksize=stop - start)[0]


class _CleanOnWorker:
    """Ray Data callable class: one BatchCleaner per worker, built once, like a local worker process."""

    def __init__(self, factory: Callable[..., BatchCleaner], path: str, batch_size: int) -> None:
        self._part_dir = tempfile.mkdtemp(prefix="refinery-clean-")
        self._clean = factory(part_dir=self._part_dir)
        self._path, self._batch_size = path, batch_size

    def __call__(self, items: dict[str, np.ndarray]) -> dict[str, list]:
        out: dict[str, list] = {"index": [], "result": [], "kept": [], "rejects": [], "first": [], "last": []}
        for index in items["index"].tolist():
            batch = read_batch(self._path, index, self._batch_size)
            ids = batch.column("id")
            out["index"].append(index)
            if not ids_increase(ids):
                # reported by the driver as a StageError (an exception raised here would reach it wrapped)
                out["first"].append(None)
                out["last"].append(None)
                out["kept"].append(b"")
                out["rejects"].append(b"")
                out["result"].append(b"")
                continue
            result = self._clean((index, batch))
            out["first"].append(ids[0].as_py())
            out["last"].append(ids[-1].as_py())
            out["kept"].append(Path(result.kept_path).read_bytes())
            out["rejects"].append(Path(result.rejects_path).read_bytes())
            Path(result.kept_path).unlink()
            Path(result.rejects_path).unlink()
            out["result"].append(pickle.dumps(result))
        return out

    def __del__(self) -> None:
        shutil.rmtree(self._part_dir, ignore_errors=True)


def first_pass(
    factory: Callable[..., BatchCleaner], path: str, num_rows: int, batch_size: int, part_dir: str, workers: int
) -> list[BatchResult]:
    """BatchResults of every batch, in order, with their part files written under the driver's `part_dir`."""
    import ray.data

    n_batches = -(-num_rows // batch_size)
    if n_batches == 0:
        return []
    ds = ray.data.from_items([{"index": i} for i in range(n_batches)], override_num_blocks=n_batches)
    ds = ds.map_batches(
        _CleanOnWorker,
        fn_constructor_kwargs={"factory": factory, "path": str(Path(path).resolve()), "batch_size": batch_size},
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
    )
    results: list[BatchResult] = []
    last_id = None
    for row in ds.iter_rows():  # preserve_order: batch 0, 1, 2... as the local engine yields them
        if row["first"] is None or (last_id is not None and row["first"] <= last_id):
            raise unsorted_ids(path)
        last_id = row["last"]
        result: BatchResult = pickle.loads(row["result"])
        kept_path = Path(part_dir) / Path(result.kept_path).name
        rejects_path = Path(part_dir) / Path(result.rejects_path).name
        kept_path.write_bytes(row["kept"])
        rejects_path.write_bytes(row["rejects"])
        results.append(replace(result, kept_path=str(kept_path), rejects_path=str(rejects_path)))
    return results


def _star_pairs(part: pa.Table) -> pa.Table:
    """Pairs (head, member) of every bucket (band, key) in one shuffle partition; head = the bucket's smallest row."""
    band = part.column("band").to_numpy()
    key = part.column("key").to_numpy()
    row = part.column("row").to_numpy()
    order = np.lexsort((row, key, band))
    band, key, row = band[order], key[order], row[order]
    new = np.ones(len(row), dtype=bool)
    new[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    head = row[np.maximum.accumulate(np.where(new, np.arange(len(row)), 0))]
    member = ~new
    return pa.table({"head": head[member], "member": row[member]})


def candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """The same (k, 2) sorted unique pairs as `near_dup.candidate_pairs(keys)`, found by a Ray Data groupby."""
    import ray
    import ray.data

    n, bands = keys.shape
    if n == 0:
        return np.empty((0, 2), dtype=np.int64)
    partitions = max(2, -(-n * bands // _ROWS_PER_PARTITION))
    rows = np.arange(n, dtype=np.int64)
    blocks = []
    for band in range(bands):  # one block per band: (band, key, row, partition of the key)
        column = keys[:, band]
        blocks.append(
            ray.put(
                pa.table(
                    {
                        "band": np.full(n, band, dtype=np.int32),
                        "key": column,
                        "row": rows,
                        "part": (column % np.uint64(partitions)).astype(np.int32),
                    }
                )
            )
        )
    ds = ray.data.from_arrow_refs(blocks)
    pairs = ds.groupby("part", num_partitions=partitions).map_groups(_star_pairs, batch_format="pyarrow")
    found = [np.empty(0, dtype=np.int64)]
    for batch in pairs.iter_batches(batch_format="pyarrow", batch_size=None):
        found.append(batch.column("head").to_numpy() * n + batch.column("member").to_numpy())
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)
