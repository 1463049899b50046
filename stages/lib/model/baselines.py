"""The majority-class baseline: always predict the most frequent label of the split's train rows.

One definition for compare's majority row, train's failed runs over seeds and curve's failed runs. It is fitted
on the split's train rows as they are before augment and balance (the rows a user would give a classical model):
augmentation multiplies the minority classes (with `augment.minority_multiplier` a minority can outnumber the
majority), so the most frequent label of the augmented rows says nothing about the data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stages.lib.core.errors import StageError
from stages.lib.core.folders import split_file
from stages.lib.model.evaluation import classification_report
from stages.lib.model.textclf import read_split

SCORES = ("macro_f1", "accuracy", "weighted_f1", "mcc")


def split_train(split_dir: str | Path) -> Path:
    """The split stage's train file: the rows every baseline is fitted on."""
    return Path(split_file(str(split_dir), "train"))


def majority_label(train_labels: Iterable[str | None]) -> str:
    """The most frequent label (ties: the first in sorted order); unlabelled rows do not count.

    Raises StageError when no row has a label.
    """
    counts = Counter(label for label in train_labels if label is not None)
    if not counts:
        raise StageError("the split's train rows hold no label: the majority-class baseline needs labelled rows")
    return min(counts, key=lambda label: (-counts[label], label))


def majority_scores(train_labels: Sequence[str | None], actual: Sequence[str]) -> dict[str, Any]:
    """Scores on `actual` of always predicting the train rows' majority label, with that label (`label`)."""
    label = majority_label(train_labels)
    classes = sorted({t for t in train_labels if t is not None})
    report = classification_report(actual, [label] * len(actual), classes)
    return {k: report[k] for k in SCORES} | {"label": label}


def majority_score(train_labels: Sequence[str | None], actual: Sequence[str], metric: str) -> float | None:
    """One score of the majority baseline on `actual` (None for `loss`, which a constant label does not have)."""
    if metric == "loss":
        return None
    return majority_scores(train_labels, actual)[metric]


def majority_on_validation(data: Any, metric: str, split_train: str) -> float | None:
    """The validation `metric` of always predicting the majority label of the split's train rows (before augment
    and balance: the one majority baseline); None for loss."""
    actual = [data.labels[r["labels"]] for r in data.val_rows]
    return majority_score(read_split(split_train)[2], actual, metric)
