"""Turning several annotators' votes into one label, and measuring how much they agree.

Plain functions on plain data (lists of class indices, count matrices) so the
label stage and a notebook can call them alike.

- `majority`: most votes wins; the tie rule is the caller's (`tie_break`).
- `dawid_skene`: EM over one confusion matrix per annotator (Dawid & Skene 1979).
  cleanlab's multi-annotator consensus (CROWDLAB) needs a model's predicted
  probabilities, which do not exist before training, so a ~40-line numpy EM is used.
- `cohen_kappa` (sklearn), `fleiss_kappa` and `krippendorff_alpha` (nominal):
  the last two from per-row vote counts, so they need no annotator identities
  and accept rows with different numbers of votes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def majority(votes: Sequence[int], n_classes: int) -> tuple[list[int], float]:
    """The tied-for-most classes (ascending) and the share of votes the top class got."""
    counts = np.bincount(np.asarray(votes, dtype=np.int64), minlength=n_classes)
    top = int(counts.max())
    return [int(c) for c in np.flatnonzero(counts == top)], top / int(counts.sum())


def dawid_skene(
    items: Sequence[int],
    annotators: Sequence[int],
    labels: Sequence[int],
    n_items: int,
    n_annotators: int,
    n_classes: int,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> np.ndarray:
    """Posterior class probabilities (n_items x n_classes) from votes given as parallel arrays.

    Initialised from the per-item vote shares (so one annotator alone gives
    back the majority), then alternates: class priors and each annotator's
    confusion matrix from the current posteriors (M), posteriors from those (E).
    `smoothing` keeps an annotator who never used a class from zeroing it.
    Items without votes get the class priors.
    """
    item = np.asarray(items, dtype=np.int64)
    ann = np.asarray(annotators, dtype=np.int64)
    lab = np.asarray(labels, dtype=np.int64)
    post = np.zeros((n_items, n_classes))
    np.add.at(post, (item, lab), 1.0)
    voted = post.sum(axis=1) > 0
    post[voted] /= post[voted].sum(axis=1, keepdims=True)
    classes = np.arange(n_classes)
    for _ in range(max_iter):
        prior = (post[voted].sum(axis=0) + smoothing) / (voted.sum() + smoothing * n_classes)
        confusion = np.full((n_annotators, n_classes, n_classes), smoothing)
        # confusion[j, true k, given l] += P(item of vote is k)
        np.add.at(confusion, (ann[:, None], classes[None, :], lab[:, None]), post[item])
        confusion /= confusion.sum(axis=2, keepdims=True)
        log_post = np.tile(np.log(prior), (n_items, 1))
        np.add.at(log_post, item, np.log(confusion[ann, :, lab]))
        log_post -= log_post.max(axis=1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(axis=1, keepdims=True)
        delta = float(np.abs(new[voted] - post[voted]).max()) if voted.any() else 0.0
        post = new
        if delta < tol:
            break
    return post


def cohen_kappa(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> float | None:
    """Cohen's kappa of two annotators over the rows both labeled; None when undefined."""
    if len(a) < 2:
        return None
    if len(set(a) | set(b)) == 1:
        return None  # both always gave the same single class: chance agreement is 1, kappa undefined
    from sklearn.metrics import cohen_kappa_score

    return _finite(float(cohen_kappa_score(list(a), list(b), labels=list(labels))))


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from a rows x classes matrix of vote counts (rows with < 2 votes are left out).

    Rows may have different numbers of votes: each row's agreement is the share
    of agreeing vote pairs, averaged; chance agreement uses the overall class shares.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=1)
    counts, n = counts[n >= 2], n[n >= 2]
    if len(counts) == 0:
        return None
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (n * (n - 1))
    p_j = counts.sum(axis=0) / n.sum()
    p_e = float((p_j**2).sum())
    if p_e >= 1.0:
        return None
    return _finite((float(p_i.mean()) - p_e) / (1.0 - p_e))


def krippendorff_alpha(counts: np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal data from a rows x classes matrix of vote counts.

    Built from the coincidence matrix: each row with m >= 2 votes adds its
    ordered vote pairs weighted 1/(m-1); alpha = 1 - observed/expected disagreement.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2], m[m >= 2]
    if len(counts) == 0:
        return None
    weighted = counts / (m - 1)[:, None]
    coincidence = counts.T @ weighted - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=0)
    n = n_c.sum()
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n_c.sum() ** 2 - (n_c**2).sum()) / (n - 1)
    if expected <= 0:
        return None
    return _finite(1.0 - observed / expected)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 6)
