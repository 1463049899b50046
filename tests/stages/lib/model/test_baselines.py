"""The majority-class baseline: one definition, on the labels it is given (the split's train rows)."""

from __future__ import annotations

import pytest

from stages.lib.core.errors import StageError
from stages.lib.model.baselines import majority_label, majority_score, majority_scores


def test_the_most_frequent_label_wins_ties_go_to_the_first_in_sorted_order_and_unlabelled_rows_do_not_count():
    assert majority_label(["b", "a", "b", None, None, None]) == "b"
    assert majority_label(["b", "a"]) == "a"
    with pytest.raises(StageError, match="hold no label"):
        majority_label([None, None])


def test_scores_are_those_of_the_train_majority_on_the_rows_scored():
    # train: 'neutral' dominates the augmented rows, but these are the split's rows, where 'negative' does
    train = ["negative"] * 5 + ["neutral"] * 2 + ["positive"] * 3
    actual = ["negative", "negative", "positive", "neutral"]
    scores = majority_scores(train, actual)
    assert scores["label"] == "negative"
    assert scores["accuracy"] == pytest.approx(0.5)
    assert scores["macro_f1"] == pytest.approx((2 * 0.5 / 1.5) / 3, abs=1e-6)  # F1 2/3 on one of three classes
    assert majority_score(train, actual, "accuracy") == scores["accuracy"]
    assert majority_score(train, actual, "loss") is None
