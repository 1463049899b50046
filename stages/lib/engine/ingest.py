"""The ingest stage's reading on Ray Data: every input file of every source is read by a worker.

Each file becomes a one-file copy of its source, read by the same `read_source` as the local engine, so
records, locations and rejects are the same; the driver gets the records back in source and file order and
turns them into rows exactly as a local run does.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from schemas.ingest import Source
from stages.lib.ingest.readers import Record, read_source, resolve_files


def _units(sources: Sequence[Source], root: Path) -> list[tuple[int, Source]]:
    """(source position, one-file source) for every input file; a source whose file names look like globs
    stays whole (its path would be read as a pattern)."""
    units = []
    for k, source in enumerate(sources):
        files = resolve_files(source, root)
        names = [str(f.relative_to(root)) for f in files]
        if len(files) > 1 and not any(ch in name for name in names for ch in "*?["):
            units.extend((k, source.model_copy(update={"path": name})) for name in names)
        else:
            units.append((k, source))
    return units


def _read(items: dict[str, np.ndarray], root: str) -> dict[str, list]:
    out: dict[str, list] = {"records": []}
    for payload in items["unit"].tolist():
        source = pickle.loads(payload)
        out["records"].append(pickle.dumps(list(read_source(source, Path(root)))))
    return out


def read_sources(sources: Sequence[Source], root: Path, workers: int) -> list[list[Record]]:
    """The records of each source, in file order: what `list(read_source(source, root))` gives for each."""
    import ray.data

    root = root.resolve()
    units = _units(sources, root)
    ds = ray.data.from_items([{"unit": pickle.dumps(s)} for _, s in units], override_num_blocks=len(units))
    ds = ds.map_batches(
        _read,
        fn_kwargs={"root": str(root)},
        batch_size=1,
        batch_format="numpy",
        num_cpus=1,
        compute=ray.data.TaskPoolStrategy(size=workers),
    )
    records: list[list[Record]] = [[] for _ in sources]
    for (k, _), row in zip(units, ds.iter_rows(), strict=True):  # preserve_order: the order of `units`
        records[k].extend(pickle.loads(row["records"]))
    return records
