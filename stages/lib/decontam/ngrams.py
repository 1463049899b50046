"""Word n-gram index of evaluation texts, and the lookup of training texts in it.

Words are `\\w+` runs of the NFKC case-folded text. Each word is hashed once (xxh3-64); an n-gram's hash is
a polynomial over its words' hashes, computed for every n-gram of a batch at once with numpy (wrapping
uint64 arithmetic), then mixed with its length. The index is a sorted uint64 array, so a lookup is one
`searchsorted` over all n-grams of a batch of training texts.

Evaluation texts shorter than `n` words (short questions) are indexed as their whole word sequence when they
have at least `min_words` words, as NeMo Curator does; training texts are then also looked up by those lengths.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xxhash

_WORD = re.compile(r"\w+")
_PRIME = np.uint64(0x100000001B3)


def words(text: str) -> list[str]:
    """The words of a text as decontamination compares them: NFKC, case-folded, `\\w+` runs."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def ngram_hashes(tokens: Sequence[Sequence[str]], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, owner, position) of every n-gram of every token list; lists shorter than n give none."""
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    flat = [w for t in tokens for w in t]
    # each distinct word hashed once (text repeats its words: ~10x fewer hashes than tokens)
    of = {w: xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass")) for w in set(flat)}
    h = np.fromiter((of[w] for w in flat), np.uint64, len(flat))
    owner = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(tokens) else np.empty(0, np.int64)
    position = np.arange(len(flat), dtype=np.int64) - np.repeat(starts, lengths)
    m = len(flat) - n + 1
    if m <= 0:
        empty = np.empty(0, np.int64)
        return np.empty(0, np.uint64), empty, empty
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = acc * _PRIME + h[k : k + m]
        acc = _mix(acc ^ np.uint64(n))
    valid = position[:m] + n <= lengths[owner[:m]]  # the n-gram stays inside one text
    return acc[valid], owner[:m][valid], position[:m][valid]


@dataclass
class NgramIndex:
    """N-grams of evaluation texts by origin (a split or a benchmark name)."""

    n: int
    min_words: int
    origins: list[str] = field(default_factory=list)
    too_short: dict[str, int] = field(default_factory=dict)
    _hashes: list[np.ndarray] = field(default_factory=list)
    _owners: list[np.ndarray] = field(default_factory=list)
    _short_lengths: set[int] = field(default_factory=set)
    _keys: np.ndarray | None = None
    _key_origin: np.ndarray | None = None

    def add(self, origin: str, texts: Sequence[str]) -> int:
        """Index the texts of one origin; returns how many were indexed (the others were too short)."""
        code = len(self.origins)
        self.origins.append(origin)
        tokens = [words(t) for t in texts]
        full = [t for t in tokens if len(t) >= self.n]
        short = [t for t in tokens if self.min_words <= len(t) < self.n]
        self.too_short[origin] = len(tokens) - len(full) - len(short)
        hashes = [ngram_hashes(full, self.n)[0]]
        for length in sorted({len(t) for t in short}):
            hashes.append(ngram_hashes([t for t in short if len(t) == length], length)[0])
            self._short_lengths.add(length)
        joined = np.concatenate(hashes)
        self._hashes.append(joined)
        self._owners.append(np.full(len(joined), code, dtype=np.int64))
        self._keys = None
        return len(full) + len(short)

    def _build(self) -> tuple[np.ndarray, np.ndarray]:
        if self._keys is None:
            keys = np.concatenate(self._hashes) if self._hashes else np.empty(0, np.uint64)
            owners = np.concatenate(self._owners) if self._owners else np.empty(0, np.int64)
            order = np.lexsort((owners, keys))  # the first origin added wins a shared n-gram
            keys, owners = keys[order], owners[order]
            first = np.ones(len(keys), dtype=bool)
            first[1:] = keys[1:] != keys[:-1]
            self._keys, self._key_origin = keys[first], owners[first]
        assert self._key_origin is not None
        return self._keys, self._key_origin

    def lookup(self, texts: Sequence[str]) -> list[tuple[str, str] | None]:
        """Per text: (origin, the matched n-gram as words) of its first n-gram found in the index, or None."""
        keys, key_origin = self._build()
        if not len(keys):
            return [None] * len(texts)
        tokens = [words(t) for t in texts]
        best: dict[int, tuple[int, int, int]] = {}  # text -> (position, length, origin code)
        for length in sorted({self.n} | self._short_lengths, reverse=True):
            h, owner, position = ngram_hashes(tokens, length)
            at = np.searchsorted(keys, h)
            hit = np.flatnonzero((at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == h))
            for i in hit.tolist():
                row = int(owner[i])
                if row not in best:
                    best[row] = (int(position[i]), length, int(key_origin[at[i]]))
        out: list[tuple[str, str] | None] = [None] * len(texts)
        for row, (position, length, code) in best.items():
            out[row] = (self.origins[code], " ".join(tokens[row][position : position + length]))
        return out
