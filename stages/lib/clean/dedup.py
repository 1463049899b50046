"""The clean stage's deduplication decisions: exact groups, LSH candidates, verification, clusters, survivors.

Pass 1 (`batch.BatchCleaner`) hashes every kept text and computes its LSH band keys with `lsh_keys`; between
the passes `deduplicate` turns those small arrays into one `Decisions` over all kept rows. The texts
themselves are read back from the part files only for the candidate pairs that verification checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stages.lib.clean.clusters import Decisions, decide
from stages.lib.clean.parts import read_ipc
from stages.lib.text import near_dup as minhash

if TYPE_CHECKING:
    from stages.lib.clean.batch import BatchResult

_VERIFY_CHUNK = 50_000  # candidate pairs whose texts are held at once during verification


def lsh_shape(threshold: float | None, num_perm: int, bands: int | None, rows: int | None) -> tuple[int, int]:
    """(bands, rows): as given, else the shape that minimises false positives + negatives at `threshold`."""
    if bands is not None and rows is not None:
        return bands, rows
    assert threshold is not None  # the schema requires threshold or bands+rows
    return minhash.optimal_param(threshold, num_perm)


def resolved(near_dup: Mapping[str, Any]) -> dict[str, Any]:
    """`clean.near_dup`'s fields with `bands` and `rows` resolved by `lsh_shape`."""
    bands, rows = lsh_shape(near_dup["threshold"], near_dup["num_perm"], near_dup["bands"], near_dup["rows"])
    return {**near_dup, "bands": bands, "rows": rows}


def lsh_keys(
    texts: Sequence[str],
    enabled: bool,
    unit: str,
    ngram: int,
    lowercase: bool,
    num_perm: int,
    threshold: float | None,
    bands: int,
    rows: int,
    verify: bool,
    seed: int,
) -> np.ndarray | None:
    """LSH band keys (texts x bands) of MinHash signatures; None when near-duplicate removal is off.

    The arguments after `texts` are `clean.near_dup`'s fields, `bands` and `rows` resolved (`resolved`).
    """
    if not enabled:
        return None
    signatures = minhash.minhash_signatures(list(texts), ngram, num_perm, seed, unit, lowercase)
    return minhash.band_keys(signatures, bands, rows)


def deduplicate(
    results: list[BatchResult],
    candidate_pairs: Callable[[np.ndarray], np.ndarray],
    exact_dup: Mapping[str, Any],
    near_dup: Mapping[str, Any],
    survivor: str,
    on_label_conflict: str,
) -> tuple[dict[str, int], Decisions, pa.ChunkedArray, list[str]]:
    """(stats, decisions, kept ids, label names) over all kept rows of pass 1.

    Exact groups, LSH candidates (`candidate_pairs` of the band keys: in-process or on Ray), verification by
    true Jaccard, connected clusters and the survivor/label decisions. The keyword arguments are `clean`'s
    fields of the same names (`near_dup` with bands and rows resolved).
    """
    n = sum(len(r.hashes) for r in results)
    hashes = np.concatenate([r.hashes for r in results]) if results else np.empty(0, np.uint64)
    ids = pa.chunked_array([r.ids for r in results], type=pa.string())
    stats = {"exact_groups": 0, "candidate_pairs": 0, "verified_pairs": 0, "rejected_by_verification": 0}

    # Exact groups: equal 64-bit hash, and an equal second hash so a collision never merges different rows.
    if exact_dup["enabled"]:
        _, first_of, exact_group = np.unique(hashes, return_index=True, return_inverse=True)
        exact_group = exact_group.reshape(-1)
        checks = np.concatenate([r.checks for r in results])
        clash = np.flatnonzero(checks != checks[first_of[exact_group]])
        if len(clash):
            exact_group = split_collisions(exact_group, checks, clash)
    else:
        exact_group = np.arange(n)
    first_row = np.unique(exact_group, return_index=True)[1]  # indexed by group label
    edges = [np.stack([first_row[exact_group], np.arange(n)], axis=1)]
    reps = np.sort(first_row)  # one row per exact group, in row order, for the LSH
    stats["exact_groups"] = int(np.count_nonzero(np.bincount(exact_group) > 1)) if n else 0

    nd = near_dup
    if nd["enabled"] and len(reps) > 1:
        pairs = reps[candidate_pairs(_rep_keys(results, reps))]  # the keys are freed right after
        stats["candidate_pairs"] = len(pairs)
        if nd["verify"] and len(pairs):
            sims = np.empty(len(pairs))
            for lo in range(0, len(pairs), _VERIFY_CHUNK):  # texts of one chunk of pairs at a time
                chunk = pairs[lo : lo + _VERIFY_CHUNK]
                need = np.unique(chunk)
                local = np.searchsorted(need, chunk)
                texts = _texts_at(results, need)
                sims[lo : lo + _VERIFY_CHUNK] = minhash.jaccard_pairs(
                    texts, local, nd["ngram"], nd["unit"], nd["lowercase"]
                )
            ok = sims >= nd["threshold"]
            stats["rejected_by_verification"] = int(np.count_nonzero(~ok))
            pairs = pairs[ok]
        stats["verified_pairs"] = len(pairs)
        edges.append(pairs)
    cluster = minhash.connected_clusters(n, np.concatenate(edges).astype(np.int64))

    encoded = pa.chunked_array([r.labels for r in results], type=pa.string()).combine_chunks().dictionary_encode()
    names = encoded.dictionary.to_pylist()
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    lengths = np.concatenate([r.lengths for r in results]) if results else np.empty(0, np.int64)
    decisions = decide(cluster, exact_group, lengths, codes, names, survivor, on_label_conflict)
    stats["clusters"] = int(np.count_nonzero(np.bincount(cluster) > 1)) if n else 0
    return stats, decisions, ids, names


def _rep_keys(results: list[BatchResult], reps: np.ndarray) -> np.ndarray:
    """Band keys of the exact-group representatives, taken batch by batch; each batch's full keys are
    released once taken, so the largest per-row structure is never held twice."""
    out, offset = [], 0
    for r in results:
        assert r.keys is not None
        lo, hi = np.searchsorted(reps, [offset, offset + len(r.keys)])
        out.append(r.keys[reps[lo:hi] - offset])
        offset += len(r.keys)
        r.keys = None
    return np.concatenate(out)


def split_collisions(exact_group: np.ndarray, checks: np.ndarray, clash: np.ndarray) -> np.ndarray:
    """Regroup rows whose check hash differs from their group's first row: same 64-bit hash, other text."""
    exact_group = exact_group.copy()
    base = int(exact_group.max()) + 1
    new: dict[tuple[int, int], int] = {}
    for row in clash.tolist():
        key = (int(exact_group[row]), int(checks[row]))
        exact_group[row] = new.setdefault(key, base + len(new))
    return exact_group


def _texts_at(results: list[BatchResult], rows: np.ndarray) -> list[str]:
    """Final texts of the kept rows at sorted global positions `rows`, reading only the parts concerned."""
    out: list[str] = []
    offset = 0
    for r in results:
        size = len(r.hashes)
        lo, hi = np.searchsorted(rows, [offset, offset + size])
        if hi > lo:
            column = read_ipc(r.kept_path, ["text"]).column("text")
            out.extend(column.take(pa.array(rows[lo:hi] - offset)).to_pylist())
        offset += size
    return out
