"""Near duplicates, defined once: two texts whose shingle sets (`shingles`) have Jaccard similarity at or
above a threshold. Clean finds them among all rows with vectorised MinHash + banded LSH (then verifies the
true Jaccard); split's leakage check computes the same Jaccard exactly between evaluation and earlier rows.
Exact-duplicate hashes live in `stages.lib.core.ids`.

    shingles(text, ngram, unit, lowercase) -> list[str]     the definition: character or word n-grams
    minhash_signatures(texts, ngram, num_perm, seed) -> (n, num_perm) uint32
    optimal_param(threshold, num_perm) -> (bands, rows)     as text-dedup / datasketch choose them
    band_keys(signatures, bands, rows) -> (n, bands) uint64
    candidate_pairs(keys) -> (k, 2) int64                   rows sharing a bucket in any band
    lsh_candidate_pairs(signatures, bands, rows)            the two above in one call
    jaccard_pairs(texts, pairs, ...) -> (k,) float          true Jaccard of candidate pairs (verification)
    connected_clusters(n, pairs) -> (n,) int64              transitive clusters (union-find)
    near_duplicate_pairs(queries, corpus, threshold, ...)   exact Jaccard >= threshold between two sets

How MinHash is made fast: every shingle is hashed once with xxh32; the `num_perm` permutations are then
one vectorised multiply-add-shift over a (shingles x num_perm) uint64 array (Dietzfelbinger's
strongly universal family for 32-bit keys: h(x) = ((a*x + b) mod 2^64) >> 32), and the per-document
minimum is one `np.minimum.reduceat`. datasketch does the same arithmetic per document in Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import xxhash

_WORD = re.compile(r"\w+")
# Shingles per chunk of the (num_perm x shingles) matrix: 8k x 128 x 8 bytes = 8 MiB, which stays in cache
# (32k-shingle chunks measured ~1.5x slower).
_CHUNK_SHINGLES = 8_192


def shingles(text: str, ngram: int = 5, unit: str = "char", lowercase: bool = True) -> list[str]:
    """The shingles of a text: character n-grams, or word n-grams (words are runs of \\w).

    A text shorter than one shingle is its own single shingle, so every text has at least one.
    """
    if lowercase:
        text = text.lower()
    if unit == "char":
        if len(text) <= ngram:
            return [text]
        return [text[i : i + ngram] for i in range(len(text) - ngram + 1)]
    tokens = _WORD.findall(text)
    if len(tokens) <= ngram:
        return [" ".join(tokens)]
    return [" ".join(tokens[i : i + ngram]) for i in range(len(tokens) - ngram + 1)]


def shingle_set(text: str, ngram: int = 5, unit: str = "char", lowercase: bool = True) -> frozenset[str]:
    return frozenset(shingles(text, ngram, unit, lowercase))


@lru_cache(maxsize=16)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


def minhash_signatures(
    texts: Sequence[str],
    ngram: int = 5,
    num_perm: int = 128,
    seed: int = 42,
    unit: str = "char",
    lowercase: bool = True,
) -> np.ndarray:
    """MinHash signatures, shape (len(texts), num_perm), dtype uint32.

    The probability that two signatures agree in one position is the Jaccard similarity of the two
    texts' shingle sets (as `shingles` defines them). Deterministic for a given seed on any machine.
    """
    a, b = _permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    # Docs per chunk so that a chunk holds about _CHUNK_SHINGLES shingles (short texts: a few hundred docs).
    i = 0
    while i < len(texts):
        j, budget = i, 0
        while j < len(texts) and (budget < _CHUNK_SHINGLES or j == i):
            budget += len(texts[j]) if unit == "char" else len(texts[j]) // 4
            j += 1
        x, starts = shingle_hashes(texts[i:j], ngram, unit, lowercase)
        out[i:j] = _min_hash(x, starts, a, b)
        i = j
    return out


def shingle_hashes(
    texts: Sequence[str], ngram: int = 5, unit: str = "char", lowercase: bool = True, bits: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes (32 or 64 bits) of every shingle of every text, concatenated, and where each text's shingles start.

    Characters: the code points of all texts in one array; each n-gram's hash is a polynomial over its code
    points, computed for all n-grams at once. Words: each word hashed with xxh3, then the same polynomial
    over word hashes. Either way a splitmix64 finaliser mixes the result; MinHash keeps the top 32 bits.
    Duplicate shingles are kept (they do not change a minimum).
    """
    if lowercase:
        texts = [t.lower() for t in texts]
    if unit == "char":
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        units = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    else:
        tokens = [_WORD.findall(t) for t in texts]
        lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(texts))
        h64 = xxhash.xxh3_64_intdigest
        units = np.fromiter((h64(w.encode("utf-8", "surrogatepass")) for ws in tokens for w in ws), dtype=np.uint64)
    counts = np.maximum(lengths - ngram + 1, 1)  # a text shorter than one shingle is its own shingle
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    text_starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lengths[:-1], out=text_starts[1:])
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(texts)), counts)
    pos = np.arange(total, dtype=np.int64) - starts[owner] + text_starts[owner]
    glen = np.minimum(lengths, ngram)[owner]
    padded = np.concatenate([units, np.zeros(ngram, dtype=np.uint64)])
    h = np.full(total, 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for k in range(ngram):
            step = h * prime + padded[pos + k] + np.uint64(1)
            h = np.where(k < glen, step, h)  # an empty text keeps the seed: its one shingle is ''
        h = _splitmix64(h)
    return (h >> np.uint64(32) if bits == 32 else h), starts


def _min_hash(x: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-document minimum over shingles of every permutation h_k(x) = ((a_k x + b_k) mod 2^64) >> 32."""
    h = np.multiply.outer(a, x)  # (num_perm, shingles); uint64 arithmetic wraps: that is the mod 2^64
    h += b[:, None]
    # The shift is monotonic, so min(h >> 32) == min(h) >> 32: reduce first, shift the small result.
    # Reducing along the contiguous axis is several times faster than along axis 0.
    m = np.minimum.reduceat(h, starts, axis=1)
    return (m.T >> np.uint64(32)).astype(np.uint32)


@lru_cache(maxsize=256)
def optimal_param(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted areas of false positives below and false negatives above
    `threshold` under the LSH S-curve 1 - (1 - s^r)^b; the same search as text-dedup's and datasketch's."""
    from scipy.integrate import quad

    best, opt = float("inf"), (1, 1)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp, _ = quad(lambda s, b=bands, r=rows: 1 - (1 - s**r) ** b, 0.0, threshold)
            fn, _ = quad(lambda s, b=bands, r=rows: (1 - s**r) ** b, threshold, 1.0)
            error = fp * false_positive_weight + fn * false_negative_weight
            if error < best:
                best, opt = error, (bands, rows)
    return opt


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit bucket key per band, shape (n, bands): the band's `rows` values mixed FNV-style and finalised
    with splitmix64. A key collision between different bands only adds a candidate (verification drops it)."""
    n = signatures.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for band in range(bands):
            k = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
            for col in range(band * rows, (band + 1) * rows):
                k ^= signatures[:, col].astype(np.uint64)
                k *= prime
            keys[:, band] = _splitmix64(k)
    return keys


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """Pairs (i, j), i < j, of rows that share a bucket in some band; shape (k, 2), sorted, unique.

    Each bucket contributes a star: every member paired with the bucket's smallest index. That keeps the
    output linear in the rows (a bucket of m rows gives m - 1 pairs, not m(m-1)/2) and gives the same
    transitive clusters as all pairs would.
    """
    n, bands = keys.shape
    codes = np.empty(0, dtype=np.int64)  # i * n + j of the pairs found so far, unique and sorted
    idx = np.arange(n, dtype=np.int64)
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        new = np.empty(n, dtype=bool)
        new[:1] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
        head = order[np.maximum.accumulate(np.where(new, idx, 0))]
        member = ~new
        codes = np.union1d(codes, head[member] * n + order[member])  # merged band by band: memory ~ output
    return np.stack([codes // n, codes % n], axis=1) if n else np.empty((0, 2), dtype=np.int64)


def lsh_candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Candidate near-duplicate pairs from MinHash signatures by banded LSH."""
    return candidate_pairs(band_keys(signatures, bands, rows))


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def jaccard_pairs(
    texts: Sequence[str], pairs: np.ndarray, ngram: int = 5, unit: str = "char", lowercase: bool = True
) -> np.ndarray:
    """True Jaccard similarity of the shingle sets of each pair (indices into `texts`).

    Shingles are compared by their 64-bit hashes (a collision inside one pair has odds of ~1e-15), built
    with the vectorised `shingle_hashes` for a chunk of pairs at a time, so memory stays bounded.
    """
    out = np.empty(len(pairs), dtype=np.float64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0])) if len(pairs) else np.empty(0, np.int64)
    for lo in range(0, len(order), 2_000):  # the shingles of ~4k texts at a time: tens of MB at most
        chunk = order[lo : lo + 2_000]
        docs, local = np.unique(pairs[chunk], return_inverse=True)
        local = local.reshape(-1, 2)
        x, starts = shingle_hashes([texts[d] for d in docs.tolist()], ngram, unit, lowercase, bits=64)
        bounds = np.append(starts, len(x)).tolist()
        values = x.tolist()
        current, current_set = -1, set()
        for k, (i, j) in zip(chunk.tolist(), local.tolist(), strict=True):
            if i != current:
                current, current_set = i, set(values[bounds[i] : bounds[i + 1]])
            other = set(values[bounds[j] : bounds[j + 1]])
            inter = len(current_set & other)
            out[k] = inter / (len(current_set) + len(other) - inter)
    return out


def connected_clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Cluster label of each of `n` rows: rows linked through any chain of pairs share one (union-find).

    Labels are numbered in order of each cluster's smallest row, so they are deterministic.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def near_duplicate_pairs(
    queries: Sequence[str],
    corpus: Sequence[str],
    threshold: float,
    ngram: int = 5,
    unit: str = "char",
    lowercase: bool = True,
    chunk: int = 2048,
) -> list[tuple[int, int, float]]:
    """Pairs (query index, corpus index, Jaccard) whose shingle-set Jaccard similarity is >= `threshold`.

    Exact, not approximate: the same shingles as MinHash (compared by their 64-bit hashes) become binary
    sparse rows, and the intersection of every pair that shares a shingle comes from one sparse product,
    done in chunks of queries so memory stays bounded.
    """
    from scipy.sparse import csr_matrix

    if not queries or not corpus:
        return []
    texts = list(queries) + list(corpus)
    x, starts = shingle_hashes(texts, ngram, unit, lowercase, bits=64)
    owner = np.repeat(np.arange(len(texts)), np.diff(np.append(starts, len(x))))
    vocab, cols = np.unique(x, return_inverse=True)
    matrix = csr_matrix((np.ones(len(x), dtype=np.int32), (owner, cols)), shape=(len(texts), len(vocab)))
    matrix.sum_duplicates()
    matrix.data[:] = 1  # a set: a shingle seen twice in one text counts once
    q, c = matrix[: len(queries)], matrix[len(queries) :]
    q_sizes = np.asarray(q.sum(axis=1)).ravel()
    c_sizes = np.asarray(c.sum(axis=1)).ravel()
    ct = c.T.tocsc()
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, q.shape[0], chunk):
        inter = (q[start : start + chunk] @ ct).tocoo()
        rows, cols_, shared = inter.row + start, inter.col, inter.data.astype(np.float64)
        union = q_sizes[rows] + c_sizes[cols_] - shared
        jaccard_ = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
        keep = jaccard_ >= threshold
        pairs.extend(zip(rows[keep].tolist(), cols_[keep].tolist(), jaccard_[keep].tolist()))
    pairs.sort()
    return pairs
