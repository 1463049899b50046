"""Drift between a reference sample (train) and a new batch, each test with a p-value or a plain difference.

The main test is a domain classifier (Lopez-Paz & Oquab 2017, "classifier
two-sample tests"): if TF-IDF + naive Bayes can tell train rows from
incoming rows, the batch differs. Its cross-validated ROC AUC is compared with
the AUCs of the same model on randomly permuted domain labels, so "drift" comes
with a p-value instead of a hand-picked AUC threshold.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn.model_selection import StratifiedKFold

TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def domain_test(
    reference: Sequence[str], batch: Sequence[str], vec: Any, folds: int, permutations: int, max_rows: int, seed: int
) -> dict[str, Any]:
    """Cross-validated ROC AUC of train-vs-batch, its permutation p-value, and each batch row's drift score.

    `vec`: an unfitted TF-IDF vectorizer (`monitor.domain_features`). Each side is sampled down to `max_rows`
    (seeded). The classifier is
    multinomial naive Bayes on TF-IDF, which fits in one sparse product, so the
    real labels and every permutation are fitted together per fold (100
    permutations cost about as much as one logistic regression). The
    vocabulary is fitted once on both sides: it sees no domain label, so the
    permutations stay a fair null. p = (1 + #null AUCs >= observed) / (1 + n).
    `scores[i]`: the out-of-fold probability that batch row i is from the batch
    (rows beyond the sample are scored by the model of the whole sample).
    """
    rng = np.random.default_rng(seed)
    ref_idx = np.sort(rng.choice(len(reference), min(max_rows, len(reference)), replace=False))
    new_idx = np.sort(rng.choice(len(batch), min(max_rows, len(batch)), replace=False))
    texts = [reference[i] for i in ref_idx] + [batch[i] for i in new_idx]
    y = np.r_[np.zeros(len(ref_idx), dtype=int), np.ones(len(new_idx), dtype=int)]
    x = vec.fit_transform(texts).tocsr()
    columns = [y] + [rng.permutation(y) for _ in range(permutations)]
    labels = np.stack(columns, axis=1).astype(float)
    k = min(folds, int(np.bincount(y).min()))
    fold = np.zeros(len(y), dtype=int)
    for n, (_, test) in enumerate(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y)):
        fold[test] = n
    aucs = np.zeros(labels.shape[1])
    oof = np.zeros(len(y))
    for f in range(k):
        train, test = fold != f, fold == f
        w = _nb_weights(x[train], labels[train])
        s = x[test] @ w
        aucs += _auc(s, labels[test]) / k
        oof[test] = s[:, 0]
    w_all = _nb_weights(x, labels[:, :1])[:, 0]
    scores = _sigmoid(vec.transform(batch) @ w_all)
    scores[new_idx] = _sigmoid(oof[len(ref_idx) :])
    null = aucs[1:]
    return {
        "auc": float(aucs[0]),
        "null_auc_mean": float(null.mean()),
        "null_auc_p95": float(np.quantile(null, 0.95)),
        "p_value": float((1 + (null >= aucs[0]).sum()) / (1 + len(null))),
        "rows_reference": len(ref_idx),
        "rows_batch": len(new_idx),
        "scores": scores,
    }


def _nb_weights(x, labels: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    """Per-feature log-odds of multinomial naive Bayes, one column per label column (1 = batch)."""
    ones = np.asarray(x.T @ labels)  # (features, columns): feature mass in the batch class
    rest = np.asarray(x.sum(axis=0)).T - ones
    v = x.shape[1]
    return np.log((ones + alpha) / (ones.sum(axis=0) + alpha * v)) - np.log(
        (rest + alpha) / (rest.sum(axis=0) + alpha * v)
    )


def _auc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC of each column (Mann-Whitney U over ranks, ties averaged)."""
    ranks = stats.rankdata(scores, axis=0)
    pos = labels.sum(axis=0)
    neg = len(labels) - pos
    return ((ranks * labels).sum(axis=0) - pos * (pos + 1) / 2) / np.maximum(pos * neg, 1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(np.asarray(z, dtype=float), -50, 50)))


def oov_share(texts: Sequence[str], vocabulary: set[str]) -> float:
    """Share of tokens not in `vocabulary`."""
    toks = [t for text in texts for t in tokens(text)]
    return sum(t not in vocabulary for t in toks) / len(toks) if toks else 0.0


def language_mix(texts: Sequence[str]) -> Counter[str]:
    from stages.lib.clean.filters import detect_language

    return Counter(detect_language(t)[0] for t in texts)


def total_variation(a: Counter[str], b: Counter[str]) -> float:
    """Half the L1 distance between two distributions given as counts (0 = same, 1 = disjoint)."""
    na, nb = sum(a.values()) or 1, sum(b.values()) or 1
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in set(a) | set(b))


def entropy(probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def ks(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value."""
    res = stats.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return float(res.statistic), float(res.pvalue)
