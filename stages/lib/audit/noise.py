"""Planted label noise, to measure the audit: flip a share of each class's labels, with a fixed seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def flip_labels(
    labels: Sequence[str], rate: float, seed: int, eligible: Sequence[bool] | None = None
) -> tuple[list[str], np.ndarray]:
    """Flip `rate` of each class's eligible rows to another class (uniformly among the others).

    Class-conditional: every class loses the same share, so a rare class is
    noised as much as a common one. Returns the new labels and the flipped mask.
    """
    rng = np.random.default_rng(seed)
    labels = list(labels)
    classes = sorted(set(labels))
    eligible = np.ones(len(labels), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    flipped = np.zeros(len(labels), dtype=bool)
    for c in classes:
        rows = np.flatnonzero(eligible & (np.array(labels) == c))
        pick = rng.choice(rows, size=round(rate * len(rows)), replace=False) if len(rows) else rows
        others = [o for o in classes if o != c]
        for n in sorted(pick):
            labels[n] = others[int(rng.integers(len(others)))]
            flipped[n] = True
    return labels, flipped


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of a flagged mask against the planted flips."""
    hit = int((flagged & truth).sum())
    return {
        "flagged": int(flagged.sum()),
        "planted": int(truth.sum()),
        "precision": round(hit / flagged.sum(), 4) if flagged.any() else 0.0,
        "recall": round(hit / truth.sum(), 4) if truth.any() else 0.0,
    }
