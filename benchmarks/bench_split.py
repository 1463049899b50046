"""Group-aware stratified folds: scikit-learn's StratifiedGroupKFold against StratifiedKFold over groups.

Run: pytest benchmarks/bench_split.py --benchmark-only. Data shaped like the
SMS sample after grouping duplicates: 5,574 rows in 5,159 groups, 13% spam.
Both give whole groups per fold; the printed `max_share_gap` is the largest
difference between a fold's spam share and the overall share.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from stages.lib.split.splitting import group_folds


def sms_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = np.ones(5159, dtype=np.int64)
    sizes[rng.choice(5159, 300, replace=False)] += rng.integers(1, 4, 300)  # some duplicate clusters
    groups = np.repeat(np.arange(5159), sizes)[:5574]
    spam_group = rng.random(5159) < 0.134
    labels = np.where(spam_group[groups], "spam", "ham")
    return labels, groups


def gap(labels: np.ndarray, folds: list[np.ndarray]) -> float:
    overall = (labels == "spam").mean()
    return float(max(abs((labels[f] == "spam").mean() - overall) for f in folds))


@pytest.mark.parametrize("impl", ["sklearn_stratified_group_kfold", "stratified_kfold_over_groups"])
def test_bench_group_folds(benchmark, impl):
    labels, groups = sms_like()

    def sgkf() -> list[np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            cv = StratifiedGroupKFold(10, shuffle=True, random_state=42)
            return [f for _, f in cv.split(np.zeros((len(labels), 1)), labels, groups)]

    def ours() -> list[np.ndarray]:
        return group_folds(labels, groups, 10, 42, True)

    folds = benchmark.pedantic(sgkf if impl.startswith("sklearn") else ours, rounds=2, iterations=1)
    for f in folds:
        assert len(set(groups[f].tolist()) & set(np.setdiff1d(groups, groups[f]).tolist())) == 0
    benchmark.extra_info["max_share_gap"] = round(gap(labels, folds), 4)
    print(impl, "max_share_gap", round(gap(labels, folds), 4))
