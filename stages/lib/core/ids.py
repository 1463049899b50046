"""Stable ids and text hashes shared by every stage.

blake2b from the standard library for row ids (stable across machines and
Python versions, no extra dependency at the join key of the pipeline); xxhash
for the hot dedup path where speed matters and collisions are re-checked.
"""

from __future__ import annotations

import hashlib

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
