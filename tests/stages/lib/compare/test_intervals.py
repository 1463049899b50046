"""Bootstrap intervals and the paired difference on cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from stages.lib.compare.intervals import interval, macro_f1, paired_difference

OPTIONS = {"n_resamples": 2000, "confidence": 0.95, "seed": 0}


def test_accuracy_interval_matches_the_binomial_normal_approximation():
    # 900 of 1000 right: the textbook interval is 0.9 +- 1.96 * sqrt(0.9 * 0.1 / 1000) = 0.9 +- 0.0186
    actual = ["a"] * 1000
    predicted = ["a"] * 900 + ["b"] * 100
    ci = interval(actual, predicted, "accuracy", **OPTIONS)
    half = 1.96 * math.sqrt(0.9 * 0.1 / 1000)
    assert ci["value"] == pytest.approx(0.9)
    assert ci["low"] == pytest.approx(0.9 - half, abs=0.004)
    assert ci["high"] == pytest.approx(0.9 + half, abs=0.004)


def test_the_interval_is_reproducible_with_its_seed_and_narrows_with_more_rows():
    rng = np.random.default_rng(1)
    actual = rng.choice(["ham", "spam"], 400).tolist()
    predicted = [a if rng.random() < 0.85 else ("spam" if a == "ham" else "ham") for a in actual]
    first = interval(actual, predicted, "macro_f1", **OPTIONS)
    assert interval(actual, predicted, "macro_f1", **OPTIONS) == first
    quarter = interval(actual[:100], predicted[:100], "macro_f1", **OPTIONS)
    assert first["high"] - first["low"] < quarter["high"] - quarter["low"]


def test_vectorised_macro_f1_equals_scikit_learn():
    rng = np.random.default_rng(2)
    actual, predicted = rng.integers(0, 3, (5, 60)), rng.integers(0, 3, (5, 60))
    ours = macro_f1(actual, predicted, 3)
    theirs = [f1_score(a, p, labels=[0, 1, 2], average="macro", zero_division=0) for a, p in zip(actual, predicted)]
    assert ours == pytest.approx(theirs)


def test_paired_difference_verdicts():
    actual = ["ham"] * 400 + ["spam"] * 100
    perfect = list(actual)
    noisy = ["spam" if i % 5 == 0 else a for i, a in enumerate(actual)]  # 20% of ham called spam
    assert paired_difference(actual, perfect, noisy, "macro_f1", **OPTIONS)["verdict"] == "better"
    assert paired_difference(actual, noisy, perfect, "macro_f1", **OPTIONS)["verdict"] == "worse"
    one_off = ["spam", *perfect[1:]]  # a single row apart: no evidence either way
    result = paired_difference(actual, one_off, perfect, "macro_f1", **OPTIONS)
    assert result["verdict"] == "no evidence of a difference"
    assert result["low"] < 0 <= result["high"]
    same = paired_difference(actual, noisy, noisy, "accuracy", **OPTIONS)
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "verdict": "no evidence of a difference"}
