"""The clean stage's input and first pass: sorted batches in; per batch normalise, filter, mask PII, hash.

A `BatchCleaner` is built once per worker process from plain settings. For each Arrow batch it writes the
kept rows and the filter rejects to Arrow IPC part files and returns only what deduplication needs (text
hashes, LSH band keys, lengths, labels, ids) plus counters, so the parent never holds the texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stages.lib.clean.dedup import lsh_keys
from stages.lib.clean.filters import build_filters, first_failure
from stages.lib.clean.parts import write_ipc
from stages.lib.core.errors import StageError
from stages.lib.core.ids import check_hashes, check_sorted_ids, text_hashes
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.text.prepare import build_text_prep


@dataclass
class BatchResult:
    index: int
    rows_in: int
    kept_path: str
    rejects_path: str
    ids: pa.Array  # ids of the kept rows, in order
    labels: pa.Array  # labels of the kept rows (nullable strings)
    lengths: np.ndarray  # final text length of each kept row
    hashes: np.ndarray  # text_hash of each kept row's final text
    checks: np.ndarray  # check_hashes of the same texts (guards exact groups against 64-bit collisions)
    keys: np.ndarray | None  # LSH band keys (kept rows x bands), None when near-dup is off
    dropped: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    pii: Counter[str] = field(default_factory=Counter)
    pii_rows: int = 0


@dataclass
class BatchCleaner:
    """Settings of the first pass as plain dicts of the `clean` sections (pickled to each worker process).

    `near_dup` is `clean.near_dup` with `bands` and `rows` resolved (`dedup.lsh_shape`).
    """

    part_dir: str
    normalize: Mapping[str, Any]
    filters: Mapping[str, Any]
    pii: Mapping[str, Any]
    near_dup: Mapping[str, Any]

    def __post_init__(self) -> None:
        self._text = build_text_prep(normalize=self.normalize, pii=self.pii)
        self._rules = build_filters(**self.filters)

    def __call__(self, item: tuple[int, pa.RecordBatch]) -> BatchResult:
        index, batch = item
        texts_raw = batch.column("text").to_pylist()
        ids = batch.column("id").to_pylist()
        sources = batch.column("source").to_pylist()
        locations = batch.column("location").to_pylist() if "location" in batch.schema.names else [None] * len(ids)
        result_dropped: Counter[str] = Counter()
        changed: Counter[str] = Counter()
        pii_counts: Counter[str] = Counter()
        pii_rows = 0
        keep_idx: list[int] = []
        final: list[str] = []
        rejects: list[dict[str, str | None]] = []
        for i, raw in enumerate(texts_raw):
            text, steps = self._text.normalize(raw)
            changed.update(steps)
            verdict = first_failure(text, self._rules)
            if verdict is not None:
                reason, detail = verdict
                result_dropped[reason] += 1
                rejects.append(
                    reject(
                        "clean", reason, source=sources[i], location=locations[i], row_id=ids[i], detail=detail, raw=raw
                    )
                )
                continue
            text, counts = self._text.mask(text)
            if any(counts.values()):
                pii_rows += 1
                pii_counts.update({k: v for k, v in counts.items() if v})
            keep_idx.append(i)
            final.append(text)

        take = pa.array(keep_idx, type=pa.int64())
        kept = pa.Table.from_batches([batch]).take(take)
        text_pos = kept.schema.get_field_index("text")
        kept = kept.set_column(text_pos, pa.field("text", pa.string(), nullable=False), pa.array(final, pa.string()))
        raw_kept = pa.array([texts_raw[i] for i in keep_idx], pa.string())
        kept = kept.append_column(pa.field("text_raw", pa.string(), nullable=False), raw_kept)
        kept_path = str(Path(self.part_dir) / f"kept-{index:06d}.arrow")
        rejects_path = str(Path(self.part_dir) / f"rejects-{index:06d}.arrow")
        write_ipc(kept, kept_path)
        write_ipc(rejects_table(rejects), rejects_path)

        keys = lsh_keys(final, **self.near_dup)
        return BatchResult(
            index=index,
            rows_in=len(texts_raw),
            kept_path=kept_path,
            rejects_path=rejects_path,
            ids=kept.column("id").combine_chunks(),
            labels=kept.column("label").combine_chunks(),
            lengths=np.fromiter((len(t) for t in final), dtype=np.int64, count=len(final)),
            hashes=text_hashes(final),
            checks=check_hashes(final),
            keys=keys,
            dropped=result_dropped,
            changed=changed,
            pii=pii_counts,
            pii_rows=pii_rows,
        )


def checked_input(path: Path, columns: Sequence[str]) -> pq.ParquetFile:
    """The input rows file, opened; StageError when it is missing or lacks a row column."""
    if not path.is_file():
        raise StageError(f"input rows {path} not found; run the ingest stage first (dvc repro ingest)")
    source = pq.ParquetFile(path)
    missing = [c for c in columns if c not in source.schema_arrow.names]
    if missing:
        raise StageError(f"{path} lacks the row columns {missing}; it has {source.schema_arrow.names}")
    return source


def sorted_batches(source: pq.ParquetFile, batch_size: int, path: str) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Batches in order, checking on the way that ids strictly increase (so they are also unique).

    Sorted input keeps both outputs sorted without a global sort; ingest writes it so. A failure here
    comes before any output is written.
    """
    last = None
    for index, batch in enumerate(source.iter_batches(batch_size=batch_size)):
        if batch.num_rows == 0:
            continue
        last = check_sorted_ids(batch.column("id"), last, path)
        yield index, batch
