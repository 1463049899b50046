"""Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) through cleanlab, plus what cleanlab leaves to us.

cleanlab 2.9 is Apache-2.0 (its releases before the relicensing were AGPL-3.0: pyproject.toml pins
`cleanlab>=2.9`). It computes the confident joint, its calibration, the label issues (every `filter_by`
of `find_label_issues`) and the label quality scores; on the same probabilities its flags were identical to
this project's own implementation (Jaccard 1.000 on the SMS sample, docs/refine.md), so that one was
retired. Ours stay: the suggested class of each flagged row, the bootstrap interval of the error rate
(stages/lib/audit/estimate.py). Given labels are integer codes `0..K-1`; `probs` are out-of-fold predicted
probabilities (rows sum to 1); every class has at least one row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANKINGS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
# cleanlab's `filter_by`; `confident_joint` is this project's earlier name of cleanlab's `confident_learning`.
METHODS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
ALIASES = {"confident_joint": "confident_learning"}


@dataclass
class Result:
    thresholds: np.ndarray  # (K,) per-class threshold: mean self-confidence of the rows given that class
    confident_joint: np.ndarray  # (K, K) int counts: given label (rows) x confidently-predicted label (columns)
    joint: np.ndarray  # (K, K) calibrated, normalised joint P(given, true) (sums to 1)
    noise_rate: np.ndarray  # (K,) P(true != k | given k): the estimated label-error rate per class (`rates`)
    error_rate: float  # the estimated share of wrong labels overall (`rates`)
    issues: np.ndarray  # (n,) bool: flagged label issues
    suggested: np.ndarray  # (n,) int: the class the model is confident about (argmax where none is)


def thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """t_k = mean p_k over rows whose given label is k (a class with no rows gets 1, so it never binds)."""
    k = probs.shape[1]
    return np.array([probs[labels == j, j].mean() if np.any(labels == j) else 1.0 for j in range(k)])


def confident_guess(probs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each row's confident class: the most probable class at or above its threshold; -1 where none is."""
    above = probs >= t - 1e-6  # cleanlab's epsilon: a row exactly at the mean counts
    masked = np.where(above, probs, -np.inf)
    return np.where(above.any(axis=1), masked.argmax(axis=1), -1)


def joint(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confident joint counts, calibrated joint P(given, true)) by cleanlab's count module."""
    from cleanlab.count import calibrate_confident_joint, compute_confident_joint

    cj = compute_confident_joint(labels, probs, calibrate=False)
    calibrated = calibrate_confident_joint(cj, labels).astype(float)
    total = calibrated.sum()
    return cj.astype(np.int64), calibrated / total if total else calibrated


ESTIMATES = ("auto", "calibrated_joint", "off_diagonal")


def rates(cj: np.ndarray, calibrated: np.ndarray, labels: np.ndarray, how: str) -> tuple[float, np.ndarray]:
    """(estimated share of wrong labels, per-class P(true != k | given k)).

    `calibrated_joint`: the off-diagonal mass of the calibrated joint (the paper's estimate: rows no class
    is confident about are spread like the counted ones). `off_diagonal`: the rows counted off the diagonal
    of the confident joint over all rows (cleanlab's `num_label_issues` default): rows no class is confident
    about count as correct. `auto`: calibrated_joint for two classes, off_diagonal for more (measured on
    planted rates of 0-20%: the calibrated joint was within 0.012 of the truth on the SMS sample but 0.07 to 0.12
    above it on TREC and BANKING77, where off_diagonal was within 0.043; docs/refine.md).
    """
    k = cj.shape[0]
    if how == "auto":
        how = "calibrated_joint" if k == 2 else "off_diagonal"
    if how == "off_diagonal":
        counts = np.bincount(labels, minlength=k).astype(float)
        off = cj.sum(axis=1) - np.diag(cj)
        return float(off.sum() / max(counts.sum(), 1)), np.divide(off, counts, out=np.zeros(k), where=counts > 0)
    per_class = calibrated.sum(axis=1)
    noise = np.divide(per_class - np.diag(calibrated), per_class, out=np.zeros(k), where=per_class > 0)
    return float(1 - np.trace(calibrated)), noise


def error_rate(labels: np.ndarray, probs: np.ndarray, how: str = "auto") -> float:
    """The estimated share of wrong labels (`how`: one of ESTIMATES, see `rates`)."""
    cj, calibrated = joint(labels, probs)
    return rates(cj, calibrated, labels, how)[0]


def find_issues(
    labels: np.ndarray, probs: np.ndarray, method: str = "prune_by_noise_rate", estimate: str = "auto"
) -> Result:
    """Estimate the joint of given and true labels and flag the rows most likely mislabelled.

    `method` is cleanlab's `filter_by`: `prune_by_noise_rate` (the paper's default: for each off-diagonal
    cell of the calibrated joint, its expected number of rows among those given i, by margin),
    `prune_by_class`, `both` (flagged by both), `confident_learning` (alias `confident_joint`: every row
    counted off the diagonal) or `predicted_neq_given`. A row whose given label is the model's argmax is
    never flagged, and a class keeps at least one row. `estimate` picks the error-rate estimate (`rates`).
    """
    from cleanlab.filter import find_label_issues

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=float)
    t = thresholds(labels, probs)
    cj, calibrated = joint(labels, probs)
    overall, noise = rates(cj, calibrated, labels, estimate)
    by = ALIASES.get(method, method)
    # cleanlab computes its own (calibrated) confident joint here: the uncounted `cj` would prune other rows
    issues = np.asarray(find_label_issues(labels, probs, filter_by=by, n_jobs=1), dtype=bool)
    argmax = probs.argmax(axis=1)
    issues &= argmax != labels
    guess = confident_guess(probs, t)
    suggested = np.where(guess >= 0, guess, argmax)
    suggested = np.where(issues & (suggested == labels), argmax, suggested)
    return Result(t, cj, calibrated, noise, overall, issues, suggested)


def rank(labels: np.ndarray, probs: np.ndarray, by: str = "self_confidence") -> np.ndarray:
    """A label-quality score per row in [0, 1], lower = more likely wrong (cleanlab's `get_label_quality_scores`).

    `self_confidence`: p of the given label. `normalized_margin`: (1 + p(given) - max other p) / 2.
    `confidence_weighted_entropy`: self-confidence over the entropy of the row's probabilities.
    """
    from cleanlab.rank import get_label_quality_scores

    return get_label_quality_scores(np.asarray(labels, dtype=np.int64), np.asarray(probs, dtype=float), method=by)
