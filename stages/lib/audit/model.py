"""The audit's classifier: features (TF-IDF, or frozen embeddings of models/base) + logistic regression, both
built by stages/lib/model/tfidf.py from `audit.tfidf` and `audit.classifier`.

Out-of-fold: every row is scored by a model that never saw it, nor any row of
its near-duplicate cluster (folds grouped by `dup_cluster`), so a memorised
duplicate cannot vouch for a wrong label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.model_selection import StratifiedGroupKFold


def embed(texts: Sequence[str], base_dir: str | Path, max_length: int, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled last hidden states of the frozen base model (no training, so no fold can leak)."""
    import torch

    from stages.lib.model.textclf import load_backbone, load_tokenizer, pool

    backbone, tokenizer = load_backbone(base_dir).eval(), load_tokenizer(base_dir)
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                list(texts[start : start + batch_size]),
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            hidden = backbone(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            out.append(pool(hidden, enc["attention_mask"], "mean").numpy())
    return np.concatenate(out) if out else np.zeros((0, 1))


def folds(labels: np.ndarray, groups: Sequence[str], k: int, seed: int) -> np.ndarray:
    """Fold number per row: stratified by label, no group split across folds."""
    fold = np.full(len(labels), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for n, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        fold[test] = n
    return fold


def out_of_fold(
    texts: Sequence[str] | None,
    features: np.ndarray | None,
    labels: np.ndarray,
    fold: np.ndarray,
    n_classes: int,
    make_vectorizer,
    make_classifier,
) -> tuple[np.ndarray, sparse.csr_matrix | np.ndarray]:
    """Probabilities of each row from the model trained on the other folds, and the full-data features.

    With `texts`, the TF-IDF vocabulary is fitted on the training folds only;
    with precomputed `features` (embeddings), those are used as they are.
    """
    probs = np.zeros((len(labels), n_classes))
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        if texts is not None:
            vec = make_vectorizer()
            x_train = vec.fit_transform([t for t, m in zip(texts, train) if m])
            x_test = vec.transform([t for t, m in zip(texts, test) if m])
        else:
            x_train, x_test = features[train], features[test]
        clf = make_classifier().fit(x_train, labels[train])
        probs[np.ix_(test, clf.classes_)] = clf.predict_proba(x_test)
    full = make_vectorizer().fit_transform(texts) if texts is not None else features
    return probs, full


def outlier_scores(x, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Cosine similarity of each row to the centroid of its own class (low = unlike its class)."""
    from sklearn.preprocessing import normalize

    x = normalize(x) if sparse.issparse(x) else x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = np.zeros(len(labels))
    for c in range(n_classes):
        rows = labels == c
        if not rows.any():
            continue
        centroid = np.asarray(x[rows].mean(axis=0)).ravel()
        centroid /= max(np.linalg.norm(centroid), 1e-12)
        sims[rows] = np.asarray(x[rows] @ centroid).ravel()
    return sims
