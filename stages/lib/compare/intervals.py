"""Bootstrap confidence intervals for test-set scores, and the paired difference of two classifiers.

Resampling the test rows (with replacement) shows how much a score would move on another test set of the same
size drawn from the same population. The paired bootstrap resamples the *same* rows for both classifiers, so the
interval of the difference is much narrower than the two separate intervals suggest: that is the honest test of
"is A better than B on this data" (Efron & Tibshirani 1993; Dror et al. 2018 for NLP).

scipy.stats.bootstrap does the resampling; the scores are vectorised over resamples so that thousands of
resamples of a few thousand rows take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

VERDICTS = ("better", "no evidence of a difference", "worse")


def codes(actual: Sequence[str], *predicted: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Labels as integer codes over the union of every label seen, for the vectorised scores."""
    names = sorted({*actual, *(p for pred in predicted for p in pred)})
    index = {name: i for i, name in enumerate(names)}
    return (
        np.array([index[a] for a in actual], dtype=np.int64),
        [np.array([index[p] for p in pred], dtype=np.int64) for pred in predicted],
        len(names),
    )


def accuracy(actual: np.ndarray, predicted: np.ndarray, k: int | None = None) -> np.ndarray:
    """Accuracy along the last axis (any leading axes are resamples)."""
    return (actual == predicted).mean(axis=-1)


def macro_f1(actual: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 along the last axis, over the `k` classes that occur in the actual or predicted labels.

    A class absent from both in a resample scores F1 0 there, like scikit-learn with zero_division=0 and the
    labels listed explicitly; callers pass k = the classes of the whole test set, so the definition stays fixed.
    """
    scores = []
    for c in range(k):
        is_a, is_p = actual == c, predicted == c
        tp = (is_a & is_p).sum(axis=-1)
        denom = is_a.sum(axis=-1) + is_p.sum(axis=-1)
        scores.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(scores, axis=0)


SCORES = {"macro_f1": macro_f1, "accuracy": accuracy}


def interval(
    actual: Sequence[str],
    predicted: Sequence[str],
    metric: str,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, float]:
    """The score on the test rows and its percentile bootstrap interval."""
    a, (p,), k = codes(actual, predicted)
    score = SCORES[metric]
    value = float(score(a, p, k))
    if len(a) < 2:
        return {"value": value, "low": value, "high": value}
    res = stats.bootstrap(
        (a, p),
        lambda x, y, axis=-1: score(x, y, k),
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return {"value": value, "low": float(res.confidence_interval.low), "high": float(res.confidence_interval.high)}


def paired_difference(
    actual: Sequence[str],
    predicted: Sequence[str],
    reference: Sequence[str],
    metric: str,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """score(predicted) - score(reference) on the same resampled rows, its interval and a verdict.

    The verdict is "better" when the whole interval lies above 0, "worse" when it lies below, and otherwise
    "no evidence of a difference" (which is not evidence that they are equal).
    """
    a, (p, r), k = codes(actual, predicted, reference)
    score = SCORES[metric]
    diff = float(score(a, p, k) - score(a, r, k))
    if len(a) < 2 or np.array_equal(p, r):
        low = high = diff
    else:
        res = stats.bootstrap(
            (a, p, r),
            lambda x, y, z, axis=-1: score(x, y, k) - score(x, z, k),
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    verdict = VERDICTS[0] if low > 0 else VERDICTS[2] if high < 0 else VERDICTS[1]
    return {"difference": diff, "low": low, "high": high, "verdict": verdict}
