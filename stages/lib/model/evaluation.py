"""Test-split metrics shared by evaluate (each approach) and compare (the majority-class baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_recall_fscore_support


def expected_calibration_error(probs: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins by their size."""
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def classification_report(
    actual: Sequence[str], predicted: Sequence[str], labels: Sequence[str], probs: np.ndarray | None = None
) -> dict[str, Any]:
    """accuracy, macro_f1, weighted_f1, mcc, ece, per_class.<label>.{precision,recall,f1,support}, n_test.

    Test rows whose label the model never saw in training count as errors.
    """
    actual, predicted = list(actual), list(predicted)
    all_labels = sorted(set(labels) | set(actual))
    p, r, f, s = precision_recall_fscore_support(actual, predicted, labels=all_labels, zero_division=0)
    report: dict[str, Any] = {
        "n_test": len(actual),
        "accuracy": float(accuracy_score(actual, predicted)) if actual else 0.0,
        "macro_f1": float(f1_score(actual, predicted, labels=all_labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(actual, predicted, labels=all_labels, average="weighted", zero_division=0)),
        "mcc": float(matthews_corrcoef(actual, predicted)) if len(set(actual) | set(predicted)) > 1 else 0.0,
        "per_class": {
            label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(all_labels)
        },
        "n_unseen_label": sum(1 for a in actual if a not in set(labels)),
    }
    if probs is not None:
        correct = np.array([a == b for a, b in zip(actual, predicted)], dtype=float)
        report["ece"] = expected_calibration_error(probs, correct)
    return rounded(report)


def rounded(value: Any) -> Any:
    """Floats rounded to 6 digits, through nested dicts: the precision every metrics file is written with."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value
