"""The audit's findings: out-of-fold probabilities, confident learning, outliers and duplicate conflicts.

`score` is the library entry point (the stage, the tests and the benchmarks call it); `issues_of` turns its
arrays into one record per (row, issue kind).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from stages.lib.audit import confident
from stages.lib.audit.model import embed, folds, out_of_fold, outlier_scores
from stages.lib.core.errors import StageError
from stages.lib.core.io import read_rows
from stages.lib.model.tfidf import classifier as make_classifier
from stages.lib.model.tfidf import tfidf_logreg, vectorizer

KINDS = ("label_issue", "outlier", "duplicate_conflict", "low_quality")
FLAGGED = KINDS[:3]  # what `flagged_rows` and the plot count: low_quality only fills review's budget


def load_labelled(split_dir: str | Path, splits: list[str]) -> list[dict[str, Any]]:
    """Labelled rows of the audited splits, sorted by id (the order every array below follows)."""
    rows = []
    for name in splits:
        path = Path(split_dir) / f"{name}.parquet"
        if not path.is_file():
            raise StageError(f"audit: {path} is missing; run the split stage first (dvc repro split)")
        table = read_rows(path)
        cols = [c for c in ("id", "text", "label", "dup_cluster") if c in table.column_names]
        rows += [{**r, "split": name} for r in table.select(cols).to_pylist() if r["label"] is not None]
    return sorted(rows, key=lambda r: r["id"])


def score(
    rows: list[dict[str, Any]],
    *,
    folds_k: int,
    seed: int,
    features: str,
    tfidf: dict[str, Any],
    classifier: dict[str, Any],
    method: str,
    error_estimate: str,
    rank_by: str,
    max_length: int,
    base_dir: str | Path | None = None,
    fit_model: bool = False,
) -> dict[str, Any]:
    """Out-of-fold probabilities and every finding, as arrays aligned with `rows`.

    With `fit_model`, also the TF-IDF + logistic regression (`tfidf`, `classifier`) fitted on every row
    (`model`), the one review and monitor read. Raises StageError with the fix when fewer than two classes
    are labelled, a class has fewer rows than folds, or `features: base` finds no base model.
    """
    classes = sorted({r["label"] for r in rows})
    if len(classes) < 2:
        raise StageError(f"audit needs at least two classes among the audited rows; found {classes}")
    counts = Counter(r["label"] for r in rows)
    if min(counts.values()) < folds_k:
        raise StageError(
            f"audit.folds={folds_k} but class counts are {dict(counts)}: every class needs a row per fold; "
            "lower audit.folds"
        )
    code = {c: i for i, c in enumerate(classes)}
    labels = np.array([code[r["label"]] for r in rows], dtype=np.int64)
    texts = [r["text"] for r in rows]
    fold = folds(labels, [r.get("dup_cluster") or r["id"] for r in rows], folds_k, seed)
    make_clf = partial(make_classifier, **classifier)
    if features == "tfidf":
        probs, x = out_of_fold(texts, None, labels, fold, len(classes), partial(vectorizer, **tfidf), make_clf)
    else:
        if base_dir is None or not Path(base_dir, "config.json").is_file():
            raise StageError(f"audit.features: base needs the base model in {base_dir}; run dvc repro base_model")
        probs, x = out_of_fold(None, embed(texts, base_dir, max_length), labels, fold, len(classes), None, make_clf)
    model = (
        tfidf_logreg(features=tfidf, classifier=classifier).fit(texts, [r["label"] for r in rows])
        if fit_model
        else None
    )
    return {
        "classes": classes,
        "labels": labels,
        "fold": fold,
        "probs": probs,
        "result": confident.find_issues(labels, probs, method, error_estimate),
        "quality": confident.rank(labels, probs, rank_by),
        "similarity": outlier_scores(x, labels, len(classes)),
        "model": model,
    }


def issues_of(
    rows: list[dict[str, Any]],
    s: dict[str, Any],
    *,
    outlier_quantile: float | None,
    duplicate_conflicts: bool,
    low_quality_share: float | None,
) -> list[dict[str, Any]]:
    """One record per (row, issue kind), sorted by kind, then score (worst first), then id."""
    classes, labels, result = s["classes"], s["labels"], s["result"]
    out = []

    def add(n: int, kind: str, value: float, suggested: str | None) -> None:
        r = rows[n]
        prob = s["probs"][n, classes.index(suggested)] if suggested is not None else None
        out.append(
            {
                "id": r["id"],
                "text": r["text"],
                "label": r["label"],
                "suggested_label": suggested,
                "suggested_prob": None if prob is None else round(float(prob), 6),
                "issue": kind,
                "score": round(float(value), 6),
                "fold": int(s["fold"][n]),
                "split": r["split"],
                "dup_cluster": r.get("dup_cluster"),
            }
        )

    for n in np.flatnonzero(result.issues):
        add(n, "label_issue", s["quality"][n], classes[result.suggested[n]])
    if low_quality_share:
        best = s["probs"].argmax(axis=1)
        order = [n for n in np.lexsort((np.arange(len(rows)), s["quality"])) if not result.issues[n]]
        for n in order[: round(low_quality_share * len(rows))]:
            add(n, "low_quality", s["quality"][n], classes[best[n]])
    if outlier_quantile:
        cut = np.quantile(s["similarity"], outlier_quantile)
        for n in np.flatnonzero(s["similarity"] <= cut):
            add(n, "outlier", s["similarity"][n], None)
    if duplicate_conflicts:
        by_cluster: dict[str, list[int]] = defaultdict(list)
        for n, r in enumerate(rows):
            if r.get("dup_cluster"):
                by_cluster[r["dup_cluster"]].append(n)
        for members in by_cluster.values():
            tally = Counter(int(labels[n]) for n in members)
            if len(tally) < 2:
                continue
            top = max(sorted(tally), key=lambda c: tally[c])
            for n in members:
                add(n, "duplicate_conflict", tally[int(labels[n])] / len(members), classes[top])
    out.sort(key=lambda r: (KINDS.index(r["issue"]), r["score"], r["id"]))
    return out
