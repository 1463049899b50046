"""Nested subsets and the power-law fit, on cases whose answer is known."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from stages.lib.curve import powerlaw
from stages.lib.curve.subsets import nested_subsets

FRACTIONS = [0.0625, 0.125, 0.25, 0.5, 1.0]


def data(n: int = 800):
    labels = ["spam" if i % 8 == 0 else "ham" for i in range(n)]
    # near-duplicate clusters share a label: many 3-row clusters, some singletons
    groups = [f"{label}{i // 24}-{i % 3}" if i % 5 else f"solo{i}" for i, label in enumerate(labels)]
    return labels, groups


def test_subsets_are_nested_stratified_and_keep_groups_whole():
    labels, groups = data()
    subsets = nested_subsets(labels, groups, FRACTIONS, seed=0)
    for small, large in itertools.pairwise(FRACTIONS):
        assert set(subsets[small]) <= set(subsets[large])
    assert subsets[1.0] == list(range(len(labels)))
    share = Counter(labels)["spam"] / len(labels)
    for fraction, rows in subsets.items():
        assert len(rows) >= fraction * len(labels)
        assert len(rows) < fraction * len(labels) + max(Counter(groups).values())  # at most one group over
        spam = sum(labels[i] == "spam" for i in rows) / len(rows)
        assert abs(spam - share) < 0.03, (fraction, spam)
        inside = {groups[i] for i in rows}
        assert {i for i, g in enumerate(groups) if g in inside} == set(rows)


def test_other_seeds_draw_other_subsets_and_the_same_seed_the_same():
    labels, groups = data()
    first = nested_subsets(labels, groups, FRACTIONS, seed=0)
    assert nested_subsets(labels, groups, FRACTIONS, seed=0) == first
    assert nested_subsets(labels, groups, FRACTIONS, seed=1)[0.0625] != first[0.0625]


def test_fit_recovers_a_known_exponent_and_its_interval_covers_it():
    n = np.array([250, 500, 1000, 2000, 4000] * 3, dtype=float)
    rng = np.random.default_rng(0)
    error = 2.0 * n**-0.5 + 0.02 + rng.normal(0, 0.001, len(n))
    f = powerlaw.fit(n, error)
    assert f.b == pytest.approx(-0.5, abs=0.05)
    assert f.c == pytest.approx(0.02, abs=0.005)
    low, high = powerlaw.exponent_interval(n, error, n_resamples=200, confidence=0.95, seed=0)
    assert low < -0.5 < high and high - low < 0.3
    # rows to reach error 0.05: 2 n^-0.5 = 0.03 -> n = (2 / 0.03)^2 = 4444
    assert f.rows_for(0.05) == pytest.approx(4444, rel=0.1)
    assert f.rows_for(0.01) is None  # below the floor c: never reached


def test_crossing_of_two_known_curves():
    slow_start = powerlaw.Fit(a=20.0, b=-0.8, c=0.01)  # bad with little data, better with much
    fast_start = powerlaw.Fit(a=0.5, b=-0.3, c=0.04)
    (x,) = powerlaw.crossings(slow_start, fast_start, 10, 100000)
    assert slow_start.error(x) == pytest.approx(fast_start.error(x), abs=1e-3)
    assert slow_start.error(x / 2) > fast_start.error(x / 2) and slow_start.error(x * 2) < fast_start.error(x * 2)
