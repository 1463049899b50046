"""PII masking: e-mail, URL, IPv4 and credit card (Luhn-checked) by regular expression; phone numbers by
`phonenumbers` (Google's libphonenumber), which knows each country's numbering plan: a digit run such as
"1000000" or a date and time such as "2025-01-18 10:30" is not a phone number, "0800 169 6031" is.

Kinds are applied in a fixed order so that a longer match is masked before a shorter pattern can bite into
it: e-mails before URLs (both contain domains), URLs before IPs, card numbers before phone numbers (both are
runs of digits). `mask(text, kinds)` returns the masked text and the number of matches per kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

KINDS = ("email", "url", "ip", "credit_card", "phone")

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
URL = re.compile(
    r"\b(?:(?:https?|ftp)://[^\s<>\"']+|www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^\s<>\"']*"
    r"|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|net|org|co\.uk|uk|info|biz|io|ly|me|tv)/[^\s<>\"']*)",
    re.I,
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IP = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.]\d)")
# Both match a whole run of digit groups, then count its digits: a 16-digit run that fails Luhn is neither
# a card nor (too long) a phone, rather than a phone number plus four stray digits.
# Cards: 13-19 digits written as card numbers are (contiguous, 4-4-4-4(-3) or Amex 4-6-5 with one kind of
# separator), so two numbers that happen to stand side by side are not taken for one; Luhn decides.
CARD = re.compile(r"(?<![\d-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{5})(?![\d])")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by every card network."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_ok(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


_PATTERNS: dict[str, tuple[re.Pattern[str], Callable[[re.Match[str]], bool] | None]] = {
    "email": (EMAIL, None),
    "url": (URL, None),
    "ip": (IP, None),
    "credit_card": (CARD, _card_ok),
}


def mask_phones(text: str, token: str, region: str | None) -> tuple[str, int]:
    """Replace every valid phone number with `token`; `region` (ISO code such as 'GB') reads national
    numbers ('07911 123456'); without it only international ones ('+44 7911 123456') are found."""
    import phonenumbers

    matches = list(phonenumbers.PhoneNumberMatcher(text, region or "ZZ", leniency=phonenumbers.Leniency.VALID))
    for match in reversed(matches):
        text = text[: match.start] + token + text[match.end :]
    return text, len(matches)


def mask_kind(text: str, kind: str, token: str) -> tuple[str, int]:
    """Replace every valid match of one kind with `token`; return the text and the count."""
    pattern, check = _PATTERNS[kind]
    count = 0

    def repl(match: re.Match[str]) -> str:
        nonlocal count
        if check is not None and not check(match):
            return match.group()
        count += 1
        return token

    return pattern.sub(repl, text), count


_DIGIT = re.compile(r"\d")
# A character every match of the kind contains: most texts skip most patterns on a substring test.
_NEEDS = {"email": "@", "url": ".", "ip": "."}


def mask(text: str, tokens: Mapping[str, str], phone_region: str | None = None) -> tuple[str, dict[str, int]]:
    """Mask the kinds named in `tokens` ({kind: token}) in the fixed order; return text and counts per kind."""
    counts: dict[str, int] = {}
    has_digit = _DIGIT.search(text) is not None
    for kind in KINDS:
        if kind not in tokens:
            continue
        need = _NEEDS.get(kind)
        if (need is not None and need not in text) or (kind in ("credit_card", "phone") and not has_digit):
            counts[kind] = 0
            continue
        if kind == "phone":
            text, counts[kind] = mask_phones(text, tokens[kind], phone_region)
        else:
            text, counts[kind] = mask_kind(text, kind, tokens[kind])
    return text, counts
