"""Which training texts are contaminated: word n-gram hits (ngrams.NgramIndex) plus MinHash near matches.

    find_contaminated(train, evaluation, ngram=..., min_words=..., near=...) -> (matches, stats)

`evaluation` maps an origin (a split name, or `benchmark:<name>`) to its texts. A match records the origin,
the kind (`ngram` or `near`) and what matched (the n-gram's words, or the similarity and the evaluation
text's start). Near matches use clean's MinHash code with the `near` settings (the fields of NearDupParams)
and are verified by true Jaccard, so an LSH false positive never drops a row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stages.lib.decontam.ngrams import NgramIndex
from stages.lib.text import near_dup


@dataclass(frozen=True)
class Match:
    origin: str
    kind: str  # "ngram" or "near"
    detail: str


def near_matches(
    train: Sequence[str],
    evaluation: Sequence[str],
    *,
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
) -> dict[int, tuple[int, float]]:
    """Train index -> (evaluation index, Jaccard) of its most similar evaluation text at or above `threshold`,
    among the LSH candidates (verification is always on here: a reject needs a measured similarity)."""
    if not enabled or not train or not evaluation:
        return {}
    assert threshold is not None  # NearDupParams requires it when verify is on; decontaminate always verifies
    if bands is None or rows is None:
        bands, rows = near_dup.optimal_param(threshold, num_perm)
    sig_t = near_dup.minhash_signatures(train, ngram, num_perm, seed, unit, lowercase)
    sig_e = near_dup.minhash_signatures(evaluation, ngram, num_perm, seed, unit, lowercase)
    keys_t, keys_e = near_dup.band_keys(sig_t, bands, rows), near_dup.band_keys(sig_e, bands, rows)
    candidates: set[tuple[int, int]] = set()
    for band in range(bands):
        hit = np.flatnonzero(np.isin(keys_t[:, band], keys_e[:, band]))
        if not len(hit):
            continue
        bucket: dict[int, list[int]] = {}
        for j, key in enumerate(keys_e[:, band].tolist()):
            bucket.setdefault(key, []).append(j)
        for i in hit.tolist():
            candidates.update((i, j) for j in bucket[int(keys_t[i, band])])
    if not candidates:
        return {}
    pairs = np.array(sorted(candidates), dtype=np.int64)
    texts = list(train) + list(evaluation)
    shifted = pairs + np.array([0, len(train)])
    sims = near_dup.jaccard_pairs(texts, shifted, ngram, unit, lowercase)
    best: dict[int, tuple[int, float]] = {}
    for (i, j), s in zip(pairs.tolist(), sims.tolist(), strict=True):
        if s >= threshold and (i not in best or s > best[i][1]):
            best[i] = (j, round(s, 4))
    return best


def find_contaminated(
    train: Sequence[str],
    evaluation: Mapping[str, Sequence[str]],
    *,
    ngram: int,
    min_words: int,
    near: Mapping[str, Any],
) -> tuple[list[Match | None], dict[str, Any]]:
    """One Match (or None) per training text, and the index's counts (texts indexed and too short per origin)."""
    index = NgramIndex(ngram, min_words)
    indexed = {origin: index.add(origin, texts) for origin, texts in evaluation.items()}
    found: list[Match | None] = [None if hit is None else Match(hit[0], "ngram", hit[1]) for hit in index.lookup(train)]
    flat = [(origin, t) for origin, texts in evaluation.items() for t in texts]
    rest = [i for i, m in enumerate(found) if m is None]
    close = near_matches([train[i] for i in rest], [t for _, t in flat], **near)
    for k, (j, score) in close.items():
        origin, text = flat[j]
        found[rest[k]] = Match(origin, "near", f"similarity {score} to: {text[:200]}")
    stats = {"indexed": indexed, "too_short": dict(index.too_short)}
    return found, stats
