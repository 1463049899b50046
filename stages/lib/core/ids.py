"""Every hash of the project: stable row ids, exact-duplicate keys, normalised-text keys.

blake2b from the standard library for row ids (stable across machines and
Python versions, no extra dependency at the join key of the pipeline); xxhash
for the hot dedup path where speed matters and collisions are re-checked.

    row_id(source, key) -> str           the join key of the pipeline (blake2b, 16 hex)
    content_key(text, label, n) -> str   what row_id hashes when a source has no id of its own
    text_hash(text) -> int               exact-duplicate key of a text as it is (xxh3, 64 bits)
    text_hashes / check_hashes           the same and a second, independent hash, as uint64 arrays
    normalize_text(text) -> str          NFKC, case-folded, whitespace collapsed
    text_key(text) -> str                hash of the normalised text: joins annotations, finds exact leaks
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import xxhash

_SEP = "\x1f"  # unit separator: cannot occur in a source name, so fields never run together


def row_id(source: str, key: str) -> str:
    """16 hex chars identifying a row from its source name and its own key (an id, or content)."""
    return hashlib.blake2b(f"{source}{_SEP}{key}".encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def content_key(text: str, label: str | None, occurrence: int) -> str:
    """The key of a row without its own id: its content, plus which repeat of that content it is.

    `occurrence` keeps ids unique when a source holds the same row twice (the SMS
    sample has 403 exact repeats) while a row's id does not depend on where in
    the file it sits.
    """
    return f"text:{text}{_SEP}label:{label}{_SEP}{occurrence}"


def text_hash(text: str) -> int:
    """64-bit xxh3 of the UTF-8 text: the exact-duplicate key (collisions are re-checked by the caller)."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """`text_hash` of each text as a uint64 array."""
    return np.fromiter((text_hash(t) for t in texts), dtype=np.uint64, count=len(texts))


def check_hashes(texts: Sequence[str]) -> np.ndarray:
    """A second, independent 64-bit hash (xxh64, another algorithm than xxh3): rows with equal `text_hash`
    but different check hashes are different texts, so exact groups are keyed by 128 bits without
    re-reading any text."""
    h = xxhash.xxh64_intdigest
    return np.fromiter((h(t.encode("utf-8", "surrogatepass")) for t in texts), dtype=np.uint64, count=len(texts))


_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed: what an annotation tool or a copy-paste changes."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_key(text: str) -> str:
    """16 hex chars: the hash of the normalised text (xxh3-64, stable across machines and versions).

    Two texts get the same key when they differ only in Unicode form, case or whitespace.
    """
    return xxhash.xxh3_64_hexdigest(normalize_text(text).encode("utf-8", "surrogatepass"))
