"""From a fetched body to text: charset (header, BOM, meta or detection) and main-text extraction.

Main text comes from trafilatura, which drops menus, sidebars and footers; when
it finds nothing, all visible text (trafilatura's html2txt) is the fallback.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

HTML_TYPES = ("text/html", "application/xhtml+xml")

# WHATWG Encoding Standard: browsers decode these labels as windows-1252, whose 0x80-0x9F are
# printable (curly quotes, euro sign) where ISO-8859-1 has control characters.
_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii", "windows-1252", "cp1252"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class PageText:
    text: str
    title: str | None
    charset: str  # the codec used
    method: str  # main (trafilatura), fallback (all visible text) or plain (not HTML)


def decode_body(body: bytes, header_charset: str | None, is_html: bool) -> tuple[str, str]:
    """The body as text and the codec used: BOM, then the Content-Type charset, then an HTML
    <meta charset>, then strict UTF-8, then charset_normalizer's detection."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), codec
    declared = [header_charset]
    if is_html:
        match = _META_CHARSET.search(body[:4096])
        declared.append(match.group(1).decode("ascii") if match else None)
    for label in declared:
        codec = _codec(label)
        if codec is not None:
            return _decode(body, codec), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        return str(best), codecs.lookup(best.encoding).name
    return _decode(body, "cp1252"), "cp1252"


def _codec(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode(body: bytes, codec: str) -> str:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; ISO-8859-1 maps every byte, as browsers do for them
        if codec == "cp1252":
            return body.decode("latin-1")
        return body.decode(codec, errors="replace")


def page_text(
    body: bytes,
    media_type: str,
    header_charset: str | None,
    url: str,
    *,
    favor: str = "balanced",
    include_tables: bool = True,
    include_comments: bool = False,
    fallback: bool = True,
) -> PageText:
    """Decode a body and take its text: main text for HTML, the whole text otherwise.

    Returns empty text (never raises) when nothing is found, so the caller can reject the page.
    """
    is_html = media_type in HTML_TYPES
    text, charset = decode_body(body, header_charset, is_html)
    if not is_html:
        return PageText(_tidy(text), None, charset, "plain")
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it warns about every short page
    doc = trafilatura.bare_extraction(
        text,
        url=url,
        favor_precision=favor == "precision",
        favor_recall=favor == "recall",
        include_tables=include_tables,
        include_comments=include_comments,
        with_metadata=True,
        deduplicate=False,
    )
    if doc is None:  # no main text: the title may still be there
        doc = trafilatura.extract_metadata(text, default_url=url)
    title = _tidy(doc.title) if doc is not None and doc.title else None
    main = _tidy(doc.text) if doc is not None and getattr(doc, "text", None) else ""
    if main or not fallback:
        return PageText(main, title, charset, "main")
    return PageText(_tidy(trafilatura.html2txt(text)), title, charset, "fallback")


def _tidy(text: str) -> str:
    """Unix line ends, no trailing spaces, no blank runs, stripped."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
