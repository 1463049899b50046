"""Confident learning (Northcutt, Jiang & Chuang, JAIR 2021), written for this project.

cleanlab implements the same method but is AGPL-3.0, which would bind every
user of this Apache-2.0 project; benchmarks/bench_audit.py and a dev-only test
compare the flagged sets with `cleanlab.filter.find_label_issues` on the same
probabilities. Given labels are integer codes `0..K-1`; `probs` are out-of-fold
predicted probabilities (rows sum to 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANKINGS = ("self_confidence", "normalized_margin")
METHODS = ("prune_by_noise_rate", "confident_joint")


@dataclass
class Result:
    thresholds: np.ndarray  # (K,) per-class threshold: mean self-confidence of the rows given that class
    confident_joint: np.ndarray  # (K, K) int counts: given label (rows) x confidently-predicted label (columns)
    joint: np.ndarray  # (K, K) calibrated, normalised joint P(given, true) (sums to 1)
    noise_rate: np.ndarray  # (K,) P(true != k | given k): the estimated label-error rate per class
    error_rate: float  # 1 - trace(joint): the estimated share of wrong labels overall
    issues: np.ndarray  # (n,) bool: flagged label issues
    suggested: np.ndarray  # (n,) int: the class the model is confident about (argmax where none is)


def thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """t_k = mean p_k over rows whose given label is k (a class with no rows gets 1, so it never binds)."""
    k = probs.shape[1]
    return np.array([probs[labels == j, j].mean() if np.any(labels == j) else 1.0 for j in range(k)])


def confident_joint(labels: np.ndarray, probs: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count each row under (given, the most probable class among those at or above their threshold).

    Rows with no class above its threshold are not counted. Returns the (K, K)
    counts and each row's confident class (-1 for an uncounted row).
    """
    k = probs.shape[1]
    above = probs >= t - 1e-6  # cleanlab's epsilon: a row exactly at the mean counts
    masked = np.where(above, probs, -np.inf)
    guess = np.where(above.any(axis=1), masked.argmax(axis=1), -1)
    counted = guess >= 0
    cj = np.zeros((k, k), dtype=np.int64)
    np.add.at(cj, (labels[counted], guess[counted]), 1)
    return cj, guess


def calibrate(cj: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """Scale each row of the confident joint to its class's real count, then normalise to a joint distribution."""
    rows = cj.sum(axis=1, keepdims=True).astype(float)
    scaled = np.divide(cj, rows, out=np.zeros_like(cj, dtype=float), where=rows > 0) * label_counts[:, None]
    total = scaled.sum()
    return scaled / total if total else scaled


def find_issues(
    labels: np.ndarray, probs: np.ndarray, method: str = "prune_by_noise_rate", min_per_class: int = 1
) -> Result:
    """Estimate the joint of given and true labels and flag the rows most likely mislabelled.

    `prune_by_noise_rate` (the paper's and cleanlab's default): for each
    off-diagonal cell (given i, true j) of the calibrated joint, flag its
    expected number of rows among those given i, those with the largest
    margin p_j - p_i. `confident_joint`: flag every row counted off the
    diagonal. Either way a row whose given label is also the model's argmax is
    never flagged, and a class keeps at least `min_per_class` rows.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=float)
    n, k = probs.shape
    counts = np.bincount(labels, minlength=k)
    t = thresholds(labels, probs)
    cj, guess = confident_joint(labels, probs, t)
    joint = calibrate(cj, counts)
    per_class = joint.sum(axis=1)
    noise = np.divide(per_class - np.diag(joint), per_class, out=np.zeros(k), where=per_class > 0)
    issues = np.zeros(n, dtype=bool)
    if method == "confident_joint":
        issues = (guess >= 0) & (guess != labels)
    else:
        prune = np.rint(joint * n).astype(np.int64)  # expected rows per (given, true) cell
        for i in range(k):
            given = np.flatnonzero(labels == i)
            budget = max(0, len(given) - min_per_class)
            for j in range(k):
                m = min(prune[i, j], budget) if i != j else 0
                if m <= 0:
                    continue
                margin = probs[given, j] - probs[given, i]
                order = np.argsort(-margin, kind="stable")[:m]
                issues[given[order]] = True
    argmax = probs.argmax(axis=1)
    issues &= argmax != labels
    suggested = np.where(guess >= 0, guess, argmax)
    suggested = np.where(issues & (suggested == labels), argmax, suggested)
    return Result(t, cj, joint, noise, float(1 - np.trace(joint)), issues, suggested)


def rank(labels: np.ndarray, probs: np.ndarray, by: str = "self_confidence") -> np.ndarray:
    """A label-quality score per row, lower = more likely wrong.

    `self_confidence`: p of the given label. `normalized_margin`: p(given) minus
    the largest other p, mapped to [0, 1] as (1 + margin) / 2.
    """
    labels = np.asarray(labels, dtype=np.int64)
    own = probs[np.arange(len(labels)), labels]
    if by == "self_confidence":
        return own
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return (1 + own - others.max(axis=1)) / 2
