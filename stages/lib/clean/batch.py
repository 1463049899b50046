"""One batch of the clean stage's first pass: normalise, filter, mask PII, hash for near_dup.

A `BatchCleaner` is built once per worker process from plain settings. For each Arrow batch it writes the
kept rows and the filter rejects to Arrow IPC part files and returns only what deduplication needs (text
hashes, LSH band keys, lengths, labels, ids) plus counters, so the parent never holds the texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from stages.lib.clean import filters, pii
from stages.lib.core.ids import check_hashes, text_hashes
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.text import near_dup, normalize


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
    """Settings of the first pass, as plain values (no params objects)."""

    part_dir: str
    normalize_steps: Mapping[str, object]  # keyword arguments of normalize.build_steps
    filter_args: Mapping[str, object]  # keyword arguments of filters.build_filters
    pii_tokens: Mapping[str, str]  # {kind: token} of the enabled kinds
    phone_region: str | None  # region of national phone numbers (ISO code), None = international only
    near_dup: Mapping[str, object] | None  # unit, ngram, lowercase, num_perm, seed, bands, rows; None = off

    def __post_init__(self) -> None:
        self._steps = normalize.build_steps(**self.normalize_steps)  # type: ignore[arg-type]
        self._rules = filters.build_filters(**self.filter_args)  # type: ignore[arg-type]

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
            text, steps = normalize.normalize(raw, self._steps)
            changed.update(steps)
            verdict = filters.first_failure(text, self._rules)
            if verdict is not None:
                reason, detail = verdict
                result_dropped[reason] += 1
                rejects.append(
                    reject(
                        "clean", reason, source=sources[i], location=locations[i], row_id=ids[i], detail=detail, raw=raw
                    )
                )
                continue
            if self.pii_tokens:
                text, counts = pii.mask(text, self.pii_tokens, self.phone_region)
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
        _write_ipc(kept, kept_path)
        _write_ipc(rejects_table(rejects), rejects_path)

        keys = None
        if self.near_dup is not None:
            nd = self.near_dup
            sig = near_dup.minhash_signatures(
                final, int(nd["ngram"]), int(nd["num_perm"]), int(nd["seed"]), str(nd["unit"]), bool(nd["lowercase"])
            )
            keys = near_dup.band_keys(sig, int(nd["bands"]), int(nd["rows"]))
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


def _write_ipc(table: pa.Table, path: str) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_ipc(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a part file written by a BatchCleaner (memory-mapped: only the columns used are touched)."""
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    return table.select(list(columns)) if columns is not None else table
