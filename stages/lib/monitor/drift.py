"""Drift between a reference sample (train) and a new batch, each test with a p-value or a plain difference.

The main test is a domain classifier (Lopez-Paz & Oquab 2017, "classifier
two-sample tests"): if TF-IDF + logistic regression can tell train rows from
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
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, permutation_test_score

TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def domain_test(
    reference: Sequence[str], batch: Sequence[str], folds: int, permutations: int, max_rows: int, seed: int
) -> dict[str, Any]:
    """Cross-validated ROC AUC of train-vs-batch, its permutation p-value, and each batch row's drift score.

    Each side is sampled down to `max_rows` (seeded). The TF-IDF vocabulary is
    fitted once on both sides: it sees no domain label, so permuting the labels
    still gives a fair null. `scores[i]` is the out-of-fold probability that
    batch row i is from the batch (for every batch row; rows beyond the sample
    are scored by a model fitted on the whole sample).
    """
    rng = np.random.default_rng(seed)
    ref_idx = np.sort(rng.choice(len(reference), min(max_rows, len(reference)), replace=False))
    new_idx = np.sort(rng.choice(len(batch), min(max_rows, len(batch)), replace=False))
    texts = [reference[i] for i in ref_idx] + [batch[i] for i in new_idx]
    y = np.r_[np.zeros(len(ref_idx), dtype=int), np.ones(len(new_idx), dtype=int)]
    vec = TfidfVectorizer(sublinear_tf=True, min_df=1, max_features=20000, token_pattern=r"(?u)\b\w+\b")
    x = vec.fit_transform(texts)
    clf = LogisticRegression(C=1.0, solver="liblinear", random_state=seed)
    cv = StratifiedKFold(n_splits=min(folds, int(min(np.bincount(y)))), shuffle=True, random_state=seed)
    auc, null, p = permutation_test_score(
        clf, x, y, cv=cv, n_permutations=permutations, scoring="roc_auc", random_state=seed
    )
    oof = cross_val_predict(clf, x, y, cv=cv, method="predict_proba")[:, 1]
    scores = clf.fit(x, y).predict_proba(vec.transform(batch))[:, 1]
    scores[new_idx] = oof[len(ref_idx) :]
    return {
        "auc": float(auc),
        "null_auc_mean": float(null.mean()),
        "null_auc_p95": float(np.quantile(null, 0.95)),
        "p_value": float(p),
        "rows_reference": len(ref_idx),
        "rows_batch": len(new_idx),
        "scores": scores,
    }


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
