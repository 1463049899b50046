"""Every hash of the project: stable row ids, exact-duplicate keys, normalised-text keys.

blake2b from the standard library for row ids (stable across machines and
Python versions, no extra dependency at the join key of the pipeline); xxhash
for the hot dedup path where speed matters and collisions are re-checked.

    row_id(source, key) -> str           the join key of the pipeline (blake2b, 16 hex)
    source_id_key(own_id) -> str         what row_id hashes when a source has ids of its own
    content_key(text, label, n) -> str   what row_id hashes when a source has no id of its own
    row_key(own, id_field, text, label, seen)  one of those two for an ingested row, or why it has none
    augmented_key / copy_key             what row_id hashes for a generated row or a resampled copy
    check_sorted_ids(ids, after, path)   the check that a rows file is sorted by unique id
    text_hash(text) -> int               exact-duplicate key of a text as it is (xxh3, 64 bits)
    text_hashes / check_hashes           the same and a second, independent hash, as uint64 arrays
    normalize_text(text) -> str          NFKC, case-folded, whitespace collapsed
    text_key(text) -> str                hash of the normalised text: joins annotations, finds exact leaks
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from stages.lib.core.exceptions import StageError

SEP = "\x1f"  # unit separator: cannot occur in a source name, so fields never run together


def row_id(source: str, key: str) -> str:
    """16 hex chars identifying a row from its source name and its own key (an id, or content)."""
    return hashlib.blake2b(f"{source}{SEP}{key}".encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def source_id_key(own_id: str) -> str:
    """The key of a row whose source gives it an id (`id_field`): label imports with `join: source_id`
    rebuild the row id from it."""
    return f"id:{own_id}"


def content_key(text: str, label: str | None, occurrence: int) -> str:
    """The key of a row without its own id: its content, plus which repeat of that content it is.

    `occurrence` keeps ids unique when a source holds the same row twice (the SMS
    sample has 403 exact repeats) while a row's id does not depend on where in
    the file it sits.
    """
    return f"text:{text}{SEP}label:{label}{SEP}{occurrence}"


def row_key(
    own: str | None, id_field: str | None, text: str, label: str | None, seen: Counter[str]
) -> tuple[str | None, tuple[str, str] | None]:
    """What `row_id` hashes for an ingested row (`(key, None)`), or why the row has no key (`(None, (reason,
    detail))`: `missing_id`, `invalid_unicode`, `duplicate_id`). With an `id_field`, the record's own id in
    that field (`own`, None when empty), unique within the source; without, the content key, numbered by
    occurrence. `seen` counts the keys (and content bases) given so far in this source and is updated."""
    if id_field is not None:
        if own is None:
            return None, ("missing_id", f"no value in '{id_field}'")
        try:
            own.encode("utf-8")
        except UnicodeEncodeError:
            return None, ("invalid_unicode", f"field '{id_field}' holds a lone surrogate")
        key = source_id_key(own)
        if seen[key]:
            return None, ("duplicate_id", f"{id_field}={own} seen before")
    else:
        base = content_key(text, label, 0)
        key = content_key(text, label, seen[base])
        seen[base] += 1
    seen[key] += 1
    return key, None


def augmented_key(origin_id: str, chain: str, text: str) -> str:
    """The key of a generated row: the original row, the chain of operations and the new text."""
    return f"aug{SEP}{origin_id}{SEP}{chain}{SEP}{text}"


def copy_key(copied_id: str, copy: int) -> str:
    """The key of the `copy`-th repeat (1, 2...) of a row that an over-sampler drew more than once."""
    return f"copy{SEP}{copied_id}{SEP}{copy}"


def ids_increase(ids: Sequence[str] | pa.Array | pa.ChunkedArray) -> bool:
    """Whether the ids strictly increase (so they are sorted and unique)."""
    if len(ids) < 2:
        return True
    if not isinstance(ids, (pa.Array, pa.ChunkedArray)):
        ids = pa.array(ids, pa.string())
    return bool(pc.all(pc.greater(ids[1:], ids[:-1])).as_py())


def unsorted_ids(path: str | Path) -> StageError:
    """The error of a rows file whose ids do not strictly increase."""
    return StageError(f"{path} is not sorted by unique id; the ingest stage writes it so, rerun it")


def check_sorted_ids(
    ids: Sequence[str] | pa.Array | pa.ChunkedArray, after: str | None, path: str | Path
) -> str | None:
    """The last id of a batch read in file order, after checking that its ids strictly increase and come after
    `after` (the previous batch's last id, None for the first). Raises StageError naming `path` otherwise."""
    if len(ids) == 0:
        return after
    first, last = ids[0], ids[-1]
    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        first, last = first.as_py(), last.as_py()
    if not ids_increase(ids) or (after is not None and first <= after):
        raise unsorted_ids(path)
    return last


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
