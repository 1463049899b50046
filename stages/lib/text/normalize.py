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

import ftfy

# ftfy's own HTML unescaping and Unicode normal form are separate steps here, so each can be counted and switched.
_FTFY_CONFIG = ftfy.TextFixerConfig(unescape_html=False, normalization=None, explain=False)

# A tag starts with a letter, '/' or '!' right after '<': `<#>`, `<3` and `a < b` are text, not tags.
_TAG = re.compile(
    r"<(?:[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?|/[A-Za-z][A-Za-z0-9:-]*\s*|!--.*?--|![A-Za-z][^<>]*)>", re.S
)
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h[1-6])\b[^<>]*>", re.I)

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


def strip_html(text: str) -> str:
    """Strip HTML tags (line-breaking tags become newlines), then unescape entities once."""
    if "<" in text:
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub("", text)
    return html.unescape(text) if "&" in text else text


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
    ftfy: bool = True,
    html: bool = True,
    unicode_form: str | None = "NFKC",
    control_chars: bool = True,
    whitespace: bool = True,
    keep_newlines: bool = True,
) -> list[Step]:
    """The enabled steps, in order, as (name, function) pairs."""
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
