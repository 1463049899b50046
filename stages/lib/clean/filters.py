"""Quality filters in the datatrove style: each rule takes a text and returns None (keep) or a drop reason.

`build_filters(...)` turns plain thresholds into an ordered list of rules; `first_failure` applies them and
returns the first reason (or None) plus a short detail for the rejects file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

# Every reason a filter can give, in rule order; the stage writes all of them (zeros too).
REASONS = (
    "empty_text",
    "too_short_chars",
    "too_long_chars",
    "too_few_words",
    "too_many_words",
    "language",
    "low_alpha_ratio",
    "high_symbol_ratio",
    "repeated_lines",
    "repeated_top_ngram",
    "repeated_ngrams",
    "deny_pattern",
    "no_allow_pattern",
)

# A rule returns None to keep the text, or (reason, detail) to drop it.
Verdict = tuple[str, str] | None
Rule = Callable[[str], Verdict]

_WORD = re.compile(r"\w+")


def min_chars_rule(n: int) -> Rule:
    return lambda text: ("too_short_chars", f"{len(text)} < {n} chars") if len(text) < n else None


def max_chars_rule(n: int) -> Rule:
    return lambda text: ("too_long_chars", f"{len(text)} > {n} chars") if len(text) > n else None


def min_words_rule(n: int) -> Rule:
    def rule(text: str) -> Verdict:
        count = len(text.split())
        return ("too_few_words", f"{count} < {n} words") if count < n else None

    return rule


def max_words_rule(n: int) -> Rule:
    def rule(text: str) -> Verdict:
        count = len(text.split())
        return ("too_many_words", f"{count} > {n} words") if count > n else None

    return rule


@lru_cache(maxsize=1)
def _language_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, normalised probability) from py3langid's offline model (97 languages)."""
    lang, prob = _language_identifier().classify(text)
    return lang, float(prob)


def language(allowed: Sequence[str], min_confidence: float = 0.0) -> Rule:
    allowed_set = frozenset(allowed)

    def rule(text: str) -> Verdict:
        lang, prob = detect_language(text)
        if lang not in allowed_set or prob < min_confidence:
            return "language", f"{lang} p={prob:.2f}"
        return None

    return rule


# Counting by deleting runs in C is ~10x faster than a Python loop over characters.
_SPACE = re.compile(r"\s+")
_LETTERS = re.compile(r"[^\W\d_]+")  # letters: word characters that are not digits or underscore
_ALNUM = re.compile(r"[^\W_]+")


def _non_space(text: str) -> int:
    return len(_SPACE.sub("", text))


def alpha_ratio(text: str) -> float:
    """Share of alphabetic characters among non-space characters (1.0 for a text of spaces only)."""
    total = _non_space(text)
    return (len(text) - len(_LETTERS.sub("", text))) / total if total else 1.0


def symbol_ratio(text: str) -> float:
    """Share of non-space characters that are neither letters nor digits (punctuation, symbols, emoji)."""
    total = _non_space(text)
    return (total - (len(text) - len(_ALNUM.sub("", text)))) / total if total else 0.0


def min_alpha_ratio_rule(threshold: float) -> Rule:
    def rule(text: str) -> Verdict:
        ratio = alpha_ratio(text)
        return ("low_alpha_ratio", f"{ratio:.2f} < {threshold}") if ratio < threshold else None

    return rule


def max_symbol_ratio_rule(threshold: float) -> Rule:
    def rule(text: str) -> Verdict:
        ratio = symbol_ratio(text)
        return ("high_symbol_ratio", f"{ratio:.2f} > {threshold}") if ratio > threshold else None

    return rule


def dup_line_fraction(text: str) -> float:
    """Gopher: share of non-empty lines that repeat an earlier line."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return 0.0
    return (len(lines) - len(set(lines))) / len(lines)


def top_ngram_fraction(tokens: Sequence[str], n: int) -> float:
    """Gopher: characters covered by the most frequent word n-gram (counted each time it occurs) / all characters."""
    total = sum(len(w) for w in tokens)
    if len(tokens) < n or not total:
        return 0.0
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    return sum(len(w) for w in gram) * count / total


def dup_ngram_fraction(tokens: Sequence[str], n: int) -> float:
    """Gopher: characters of words that lie inside an n-gram occurring more than once / all characters."""
    total = sum(len(w) for w in tokens)
    if len(tokens) < n or not total:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(tokens)
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        if gram in seen:
            for j in range(i, i + n):
                covered[j] = True
        else:
            seen.add(gram)
    return sum(len(w) for w, c in zip(tokens, covered) if c) / total


def repetition(
    max_dup_line: float | None,
    max_top_ngram: dict[int, float] | None,
    max_dup_ngram: dict[int, float] | None,
    min_words_to_apply: int = 0,
) -> Rule:
    def rule(text: str) -> Verdict:
        tokens = _WORD.findall(text.lower())
        if len(tokens) < min_words_to_apply:
            return None
        if max_dup_line is not None:
            frac = dup_line_fraction(text)
            if frac > max_dup_line:
                return "repeated_lines", f"{frac:.2f} > {max_dup_line}"
        for n, limit in sorted((max_top_ngram or {}).items()):
            frac = top_ngram_fraction(tokens, n)
            if frac > limit:
                return "repeated_top_ngram", f"{n}-gram {frac:.2f} > {limit}"
        for n, limit in sorted((max_dup_ngram or {}).items()):
            frac = dup_ngram_fraction(tokens, n)
            if frac > limit:
                return "repeated_ngrams", f"{n}-grams {frac:.2f} > {limit}"
        return None

    return rule


def deny(patterns: Sequence[str]) -> Rule:
    compiled = [re.compile(p) for p in patterns]

    def rule(text: str) -> Verdict:
        for pattern in compiled:
            if pattern.search(text):
                return "deny_pattern", pattern.pattern
        return None

    return rule


def allow(patterns: Sequence[str]) -> Rule:
    compiled = [re.compile(p) for p in patterns]

    def rule(text: str) -> Verdict:
        return None if any(p.search(text) for p in compiled) else ("no_allow_pattern", "matches no allow pattern")

    return rule


def not_empty(text: str) -> Verdict:
    return ("empty_text", "empty after normalisation") if not text.strip() else None


def build_filters(
    min_chars: int | None,
    max_chars: int | None,
    min_words: int | None,
    max_words: int | None,
    languages: Sequence[str] | None,
    min_language_confidence: float,
    min_alpha_ratio: float | None,
    max_symbol_ratio: float | None,
    max_dup_line_fraction: float | None,
    max_top_ngram_fraction: dict[int, float] | None,
    max_dup_ngram_fraction: dict[int, float] | None,
    repetition_min_words: int,
    deny_patterns: Sequence[str],
    allow_patterns: Sequence[str],
) -> list[Rule]:
    """The enabled rules in a fixed order (cheap ones first; the language model last but one).

    The arguments are `clean.filters`' fields (`build_filters(**cfg.filters.model_dump())`).
    """
    rules: list[Rule] = [not_empty]
    if min_chars:
        rules.append(min_chars_rule(min_chars))
    if max_chars:
        rules.append(max_chars_rule(max_chars))
    if min_words:
        rules.append(min_words_rule(min_words))
    if max_words:
        rules.append(max_words_rule(max_words))
    if min_alpha_ratio is not None:
        rules.append(min_alpha_ratio_rule(min_alpha_ratio))
    if max_symbol_ratio is not None:
        rules.append(max_symbol_ratio_rule(max_symbol_ratio))
    if max_dup_line_fraction is not None or max_top_ngram_fraction or max_dup_ngram_fraction:
        rules.append(
            repetition(max_dup_line_fraction, max_top_ngram_fraction, max_dup_ngram_fraction, repetition_min_words)
        )
    if deny_patterns:
        rules.append(deny(deny_patterns))
    if allow_patterns:
        rules.append(allow(allow_patterns))
    if languages is not None:
        rules.append(language(languages, min_language_confidence))
    return rules


def first_failure(text: str, rules: Sequence[Rule]) -> Verdict:
    """The first rule that drops `text`, as (reason, detail); None when every rule keeps it."""
    for rule in rules:
        verdict = rule(text)
        if verdict is not None:
            return verdict
    return None
