"""Decoding text files the same way in every stage: declared encoding, BOMs, bad bytes and line ends.

Undecodable bytes are kept as lone surrogates (`surrogateescape`), so a reader
can reject the one line that holds them, show them as `\\xff`, and keep the rest.
A file in UTF-16 or UTF-32 read as a one-byte or UTF-8 encoding is refused with
the encoding to set: read that way every text would carry NUL bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stages.lib.core.exceptions import StageError

_BOMS = (  # longest first: the UTF-32-LE BOM starts with the UTF-16-LE one
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def sniff_wide_encoding(data: bytes) -> str | None:
    """'utf-16' or 'utf-32' when the bytes start with that BOM or have NUL bytes in every other position
    (UTF-16 without a BOM: ASCII text comes out as `h\0e\0l\0...`); None otherwise."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:4096]
    if len(head) >= 8:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) >= 0.4 * (len(head) / 2) and min(even, odd) <= 0.05 * (len(head) / 2):
            return "utf-16"
    return None


def decode(data: bytes, encoding: str, what: str = "source", fix: str = "set `encoding: {wide}`") -> str:
    """Decode, skipping a UTF-8 BOM; undecodable bytes become lone surrogates found by `has_bad_bytes`.

    Raises StageError when the declared encoding is a single-byte or UTF-8 one but the bytes are UTF-16 or
    UTF-32 (by BOM or NUL-interleaving): read that way, every text would carry NUL bytes.
    """
    name = encoding.lower().replace("_", "-")
    if not name.startswith(("utf-16", "utf-32", "utf16", "utf32")):
        wide = sniff_wide_encoding(data)
        if wide is not None:
            raise StageError(f"{what} looks like {wide.upper()} but is read as {encoding}; {fix.format(wide=wide)}")
    if name in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    return data.decode(encoding, errors="surrogateescape")


def has_bad_bytes(text: str) -> bool:
    """True when `decode` met bytes the encoding could not read."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def escape_bad_bytes(text: str) -> str:
    """Show undecodable bytes as `\\xff` so a rejected line can still be stored and read."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_NEWLINE = re.compile(r"\r\n|\r|\n")


def lines(text: str) -> Iterator[tuple[int, str]]:
    """Split on \\n, \\r\\n and a lone \\r (old Mac files), and nothing else: str.splitlines would also
    split inside a line at U+0085 or U+2028."""
    parts = _NEWLINE.split(text)
    if parts and parts[-1] == "":
        parts.pop()
    yield from enumerate(parts, start=1)
