"""Text normalisation steps: each a plain function `str -> str`, applied in a fixed order.

`normalize(text, steps)` returns the new text and the names of the steps that
changed it, so the stage can count rows changed per step.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import ftfy
import lxml.etree
import lxml.html
import lxml.html.defs as _defs

# ftfy's own HTML unescaping and Unicode normal form are separate steps here, so each can be counted and switched.
_FTFY_CONFIG = ftfy.TextFixerConfig(unescape_html=False, normalization=None, explain=False)

# C0/C1 controls except tab and newline (\r is turned into \n first), and invisible format characters:
# soft hyphen, zero-width space/joiners, bidi marks and embeddings, word joiner and friends, BOM.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_HSPACE = re.compile(r"[^\S\n]+")  # whitespace other than newline (includes NBSP, tabs, ideographic space)
_BLANK_LINES = re.compile(r"\n{3,}")
_ANY_SPACE = re.compile(r"\s+")


# What ftfy can still change in pure-ASCII text with HTML unescaping off: line breaks, terminal escapes
# and control characters. ASCII text without them comes back unchanged, so it skips ftfy (most of a corpus).
_FTFY_ASCII_WORK = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def fix_unicode(text: str) -> str:
    """Repair mojibake, stray Windows-1252 C1 controls and other broken Unicode with ftfy."""
    if text.isascii() and not _FTFY_ASCII_WORK.search(text):
        return text
    return ftfy.fix_text(text, _FTFY_CONFIG)


# Markup is what lxml's HTML parser finds, checked against lxml's own lists of HTML elements and attributes:
# libxml2 reads `a<b and c>d` as a <b> element with attributes `and` and `c`, which a regex would strip too.
_HTML_TAGS = frozenset(_defs.tags) | {"html", "head", "body", "font", "center", "u", "s", "strike", "tt", "big"}
_HTML_ATTRS = frozenset(_defs.safe_attrs | _defs.event_attrs | _defs.link_attrs) | {"style", "id", "class", "lang"}
_BREAK_BEFORE = frozenset({"br"})
_BREAK_AFTER = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})


def _is_markup(element: Any) -> bool:
    """A comment, or a known HTML element whose every attribute is a known HTML attribute."""
    if not isinstance(element.tag, str):
        return True  # comments, processing instructions
    return element.tag in _HTML_TAGS and all(
        name in _HTML_ATTRS or name.startswith(("data-", "aria-")) for name in element.attrib
    )


def _text_of(element: Any, out: list[str]) -> None:
    if isinstance(element.tag, str):
        if element.tag in _BREAK_BEFORE:
            out.append("\n")
        if element.tag not in ("script", "style") and element.text:
            out.append(element.text)
        for child in element:
            _text_of(child, out)
        if element.tag in _BREAK_AFTER:
            out.append("\n")
    if element.tail:
        out.append(element.tail)


def strip_html(text: str) -> str:
    """Text without its HTML markup (line-breaking elements become newlines), entities unescaped once.

    Parsed with lxml. When anything the parser took for an element is not HTML (an unknown element such as
    `<Alex>`, or `a<b and c>d` read as <b> with attributes `and` and `c`), the text is prose with angle
    brackets, not markup: then only its entities are unescaped, and no word is lost.
    """
    if "<" not in text:
        return html.unescape(text) if "&" in text else text
    try:
        root = lxml.html.fragment_fromstring(text, create_parent="div")
    except (lxml.etree.LxmlError, ValueError):
        return html.unescape(text) if "&" in text else text
    elements = list(root.iterdescendants())
    if not elements or not all(_is_markup(e) for e in elements):
        return html.unescape(text) if "&" in text else text
    out: list[str] = [root.text or ""]
    for child in root:
        _text_of(child, out)
    return "".join(out)


def unicode_normalize(text: str, form: str = "NFKC") -> str:
    """Unicode normal form (NFKC folds full-width letters, ligatures, superscripts)."""
    return text if unicodedata.is_normalized(form, text) else unicodedata.normalize(form, text)


def remove_control_chars(text: str) -> str:
    """Remove control and zero-width/format characters; CR and CRLF become LF first."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def collapse_whitespace(text: str, keep_newlines: bool = True) -> str:
    """Collapse horizontal whitespace to one space and strip; keep at most one blank line, or no breaks at all."""
    if not keep_newlines or "\n" not in text:
        return _ANY_SPACE.sub(" ", text).strip()
    text = "\n".join(line.strip() for line in _HSPACE.sub(" ", text).split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


Step = tuple[str, Callable[[str], str]]


def build_steps(
    ftfy: bool, html: bool, unicode_form: str | None, control_chars: bool, whitespace: bool, keep_newlines: bool
) -> list[Step]:
    """The enabled steps, in order, as (name, function) pairs; the arguments are `clean.normalize`'s fields."""
    steps: list[Step] = []
    if ftfy:
        steps.append(("ftfy", fix_unicode))
    if html:
        steps.append(("html", strip_html))
    if unicode_form:
        steps.append(("unicode", partial(unicode_normalize, form=unicode_form)))
    if control_chars:
        steps.append(("control_chars", remove_control_chars))
    if whitespace:
        steps.append(("whitespace", partial(collapse_whitespace, keep_newlines=keep_newlines)))
    return steps


STEP_NAMES = ("ftfy", "html", "unicode", "control_chars", "whitespace")


def normalize(text: str, steps: Sequence[Step]) -> tuple[str, list[str]]:
    """Apply `steps` in order; return the text and the names of the steps that changed it."""
    changed: list[str] = []
    for name, fn in steps:
        new = fn(text)
        if new != text:
            changed.append(name)
            text = new
    return text, changed
