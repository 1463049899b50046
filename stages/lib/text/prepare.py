"""The one path from a raw record to model text: field selection, normalisation, PII masking.

ingest selects the text fields (`select_text`), clean normalises, filters and masks the rows it keeps;
predict and monitor run every step on each new record. All of them build their `TextPrep` here from the
same `clean.normalize` and `clean.pii` settings, so the text a model is asked about is, byte for byte, the
text it would have been trained on. clean's quality filters run between normalising and masking but never
change a text, so they are not part of this path.

A trained model records `TextPrep.fingerprint` (stages/lib/text/fingerprint.py); predict compares it with its
own settings before predicting, so a changed setting cannot skew silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stages.lib.core.rejects import reject
from stages.lib.text import normalize as norm
from stages.lib.text import pii as pii_masking
from stages.lib.text.fingerprint import text_fingerprint

# Several text fields (subject, body) are joined with a blank line between them; an empty one is left out.
TEXT_JOIN = "\n\n"

Reject = tuple[str, str | None]  # (reason, detail)


def select_text(fields: Mapping[str, Any], text_fields: Sequence[str]) -> tuple[str | None, Reject | None]:
    """(text, None) from a record's `text_fields`, joined with TEXT_JOIN, or (None, (reason, detail)).

    Reasons: `missing_text` (a field is absent), `text_not_string` (a number, boolean or object would become a
    made-up text such as "12345" or "True"), `empty_text`, `invalid_unicode` (a lone surrogate, which Parquet
    cannot store).
    """
    absent = [f for f in text_fields if f not in fields]
    if absent:
        return None, ("missing_text", f"no field '{absent[0]}'")
    parts = [fields[f] for f in text_fields]
    odd = [p for p in parts if p is not None and not isinstance(p, str)]
    if odd:
        return None, ("text_not_string", f"{type(odd[0]).__name__} {_short(odd[0])}")
    text = TEXT_JOIN.join(p for p in parts if p and p.strip()) if len(parts) > 1 else (parts[0] or "")
    if not text.strip():
        return None, ("empty_text", None)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None, ("invalid_unicode", "field 'text' holds a lone surrogate (e.g. a JSON escape \\ud800)")
    return text, None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def build_pii(
    email: Mapping[str, Any],
    phone: Mapping[str, Any],
    url: Mapping[str, Any],
    ip: Mapping[str, Any],
    credit_card: Mapping[str, Any],
) -> tuple[dict[str, str], str | None]:
    """({kind: token} of the enabled kinds, phone region) from `clean.pii`'s fields, every one of them."""
    kinds = {"email": email, "phone": phone, "url": url, "ip": ip, "credit_card": credit_card}
    tokens = {kind: str(kinds[kind]["token"]) for kind in pii_masking.KINDS if kinds[kind]["enabled"]}
    return tokens, phone["region"]


@dataclass(frozen=True)
class TextPrep:
    """Normalise and mask one text as clean does; build it with `build_text_prep`."""

    steps: tuple[norm.Step, ...]
    pii_tokens: Mapping[str, str]
    phone_region: str | None
    fingerprint: Mapping[str, Any]

    def normalize(self, text: str) -> tuple[str, list[str]]:
        """The normalised text and the names of the steps that changed it."""
        return norm.normalize(text, self.steps)

    def mask(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with every enabled PII kind masked, and the matches per kind."""
        if not self.pii_tokens:
            return text, {}
        return pii_masking.mask(text, self.pii_tokens, self.phone_region)

    def __call__(self, text: str) -> str:
        """Normalised, then masked: the model text of an already selected raw text."""
        return self.mask(self.normalize(text)[0])[0]

    def record(self, fields: Mapping[str, Any] | None, text_fields: Sequence[str]) -> tuple[str | None, Reject | None]:
        """(model text, None) of a raw record, or (None, (reason, detail)); `empty_text` also when only
        characters that normalisation removes were there."""
        text, why = select_text(fields or {}, text_fields)
        if text is None:
            return None, why
        text = self(text)
        return (text, None) if text.strip() else (None, ("empty_text", None))


def build_text_prep(normalize: Mapping[str, Any], pii: Mapping[str, Any]) -> TextPrep:
    """The text path from `clean.normalize` and `clean.pii` as dicts (`cfg.normalize.model_dump()`)."""
    tokens, region = build_pii(**pii)
    return TextPrep(
        steps=tuple(norm.build_steps(**normalize)),
        pii_tokens=tokens,
        phone_region=region,
        fingerprint=text_fingerprint(normalize, pii),
    )


def prepare_records(
    records: Iterable[Any], source: str, text_fields: Sequence[str], prep: TextPrep, stage: str
) -> tuple[list[tuple[Any, str]], list[dict[str, Any]]]:
    """([(record, model text)], reject records) of a reader's records (`stages.lib.ingest.readers.Record`).

    An unreadable record keeps its reader's reason; a readable one is rejected for the reasons of
    `TextPrep.record`, with its raw line (or its fields as JSON) so nothing is lost.
    """
    kept: list[tuple[Any, str]] = []
    rejects: list[dict[str, Any]] = []
    for record in records:
        text, why = (None, (record.reason, None)) if record.reason else prep.record(record.fields, text_fields)
        if text is None:
            assert why is not None
            raw = record.raw if record.raw is not None else json.dumps(record.fields, ensure_ascii=False, default=str)
            detail = why[1] or record.detail
            rejects.append(reject(stage, why[0], source=source, location=record.location, detail=detail, raw=raw))
            continue
        kept.append((record, text))
    return kept, rejects
