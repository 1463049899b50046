"""Normalised-text keys: one function for joining annotations to rows and for the split leakage check.

Two texts get the same key when they differ only in Unicode form, case or
whitespace, which is what an annotation tool or a copy-paste changes. Kept
tiny on purpose: the clean stage owns the heavier normalisation (mojibake,
HTML) and its near-duplicate search; the lead may point `near_duplicate_pairs`
at clean's MinHash functions once both are merged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import xxhash

_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_key(text: str) -> str:
    """16 hex chars: the hash of the normalised text (xxh3-64, stable across machines and versions)."""
    return xxhash.xxh3_64_hexdigest(normalize_text(text).encode("utf-8", "surrogatepass"))


def near_duplicate_pairs(
    queries: Sequence[str], corpus: Sequence[str], threshold: float, shingle_size: int, chunk: int = 2048
) -> list[tuple[int, int, float]]:
    """Pairs (query index, corpus index, Jaccard) whose word-shingle Jaccard similarity is >= `threshold`.

    Exact, not approximate: shingle sets become binary sparse rows and the
    intersection of every pair that shares a shingle comes from one sparse
    product, done in chunks of queries so memory stays bounded. Texts shorter
    than `shingle_size` words count as one shingle (the whole text).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if not queries or not corpus:
        return []
    vectorizer = CountVectorizer(
        analyzer=lambda text: _shingles(text, shingle_size), binary=True, dtype=np.int32, lowercase=False
    )
    vectorizer.fit(list(queries) + list(corpus))
    q = vectorizer.transform(queries).tocsr()
    c = vectorizer.transform(corpus).tocsr()
    q_sizes = np.asarray(q.sum(axis=1)).ravel()
    c_sizes = np.asarray(c.sum(axis=1)).ravel()
    ct = c.T.tocsc()
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, q.shape[0], chunk):
        inter = (q[start : start + chunk] @ ct).tocoo()
        rows, cols, shared = inter.row + start, inter.col, inter.data.astype(np.float64)
        union = q_sizes[rows] + c_sizes[cols] - shared
        jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
        keep = jaccard >= threshold
        pairs.extend(zip(rows[keep].tolist(), cols[keep].tolist(), jaccard[keep].tolist()))
    pairs.sort()
    return pairs


def _shingles(text: str, size: int) -> list[str]:
    words = normalize_text(text).split(" ")
    if len(words) <= size:
        return [" ".join(words)]
    return list({" ".join(words[i : i + size]) for i in range(len(words) - size + 1)})
