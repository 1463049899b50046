"""Exact and near-duplicate clusters of a list of texts, with clean's MinHash code (one definition).

`clusters(texts, exact=..., **near_dup)` takes the settings of `clean.near_dup` as keyword arguments named
like its fields and returns the exact group and the transitive cluster of each text. The SFT clean stage
calls it on whole conversations and again on prompts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stages.lib.core.ids import check_hashes, text_hashes
from stages.lib.text import near_dup


def clusters(
    texts: Sequence[str],
    *,
    exact: bool,
    enabled: bool,
    unit: str,
    ngram: int,
    lowercase: bool,
    num_perm: int,
    threshold: float | None,
    bands: int | None,
    rows: int | None,
    verify: bool,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(exact group, cluster, stats) per text. Exact groups join equal texts (two independent 64-bit hashes);
    clusters add near-duplicate pairs found by MinHash + LSH and, with `verify`, checked by true Jaccard."""
    n = len(texts)
    stats = {"exact_groups": 0, "candidate_pairs": 0, "verified_pairs": 0}
    if n == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, stats
    if exact:
        keys = np.stack([text_hashes(texts), check_hashes(texts)], axis=1)
        _, exact_group = np.unique(keys, axis=0, return_inverse=True)
        exact_group = exact_group.reshape(-1).astype(np.int64)
    else:
        exact_group = np.arange(n, dtype=np.int64)
    first_row = np.unique(exact_group, return_index=True)[1]
    edges = [np.stack([first_row[exact_group], np.arange(n)], axis=1)]
    stats["exact_groups"] = int(np.count_nonzero(np.bincount(exact_group) > 1))
    reps = np.sort(first_row)
    if enabled and len(reps) > 1:
        if bands is None or rows is None:
            assert threshold is not None  # the schema requires threshold or bands + rows
            bands, rows = near_dup.optimal_param(threshold, num_perm)
        rep_texts = [texts[i] for i in reps.tolist()]
        sig = near_dup.minhash_signatures(rep_texts, ngram, num_perm, seed, unit, lowercase)
        pairs = near_dup.lsh_candidate_pairs(sig, bands, rows)
        stats["candidate_pairs"] = len(pairs)
        if verify and len(pairs):
            sims = near_dup.jaccard_pairs(rep_texts, pairs, ngram, unit, lowercase)
            pairs = pairs[sims >= threshold]
        stats["verified_pairs"] = len(pairs)
        edges.append(reps[pairs])
    cluster = near_dup.connected_clusters(n, np.concatenate(edges).astype(np.int64))
    return exact_group, cluster, stats
