"""Answer scores against a reference: exact match, token F1 and ROUGE-L, each in [0, 1].

Exact match and token F1 follow the SQuAD evaluation script: lower case, punctuation and the articles a/an/the
removed, whitespace collapsed; F1 over the multiset of remaining words. ROUGE-L is the F-measure (beta 1) of the
longest common subsequence of words, tokenised as the rouge-score package does (lower case, runs of letters and
digits), which is implemented here rather than installed.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"“", "”", "‘", "’", "«", "»", "…", "–", "—"}
_WORD = re.compile(r"[^\W_]+")


def normalize(text: str) -> str:
    """SQuAD's answer normalisation (NFKC first, so full-width and composed forms compare equal)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised answers are equal."""
    return float(normalize(prediction) == normalize(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of word precision and recall after normalisation; two empty answers score 1."""
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (O(len(a) * len(b)) time, O(len(b)) memory)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure over words; two empty answers score 1, one empty answer 0."""
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def score(prediction: str, reference: str) -> dict[str, float]:
    """The three scores of one answer."""
    return {
        "exact_match": exact_match(prediction, reference),
        "token_f1": token_f1(prediction, reference),
        "rouge_l": rouge_l(prediction, reference),
    }
