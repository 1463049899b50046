"""How sure the estimated label-error rate is: a bootstrap interval over the audited rows.

The out-of-fold probabilities stay fixed; rows are drawn with replacement and the calibrated joint is
estimated again on each draw (thresholds, confident joint, calibration: stages/lib/audit/confident.py). The
interval covers the sampling of rows, not the refitting of the model, so it is a lower bound on the real
uncertainty; docs/refine.md measures it against planted rates of 0%, 5%, 10% and 20%.
"""

from __future__ import annotations

import numpy as np

from stages.lib.audit.confident import error_rate


def error_rate_interval(
    labels: np.ndarray, probs: np.ndarray, resamples: int, level: float, seed: int, how: str = "auto"
) -> tuple[float, float]:
    """Percentile bootstrap interval (`level`, e.g. 0.95) of the estimated error rate (`how`: confident.rates)
    over `resamples` draws.

    A draw that loses every row of a class estimates on the classes it kept (the class cannot add errors
    it has no rows for). With `resamples` 0 the interval is the point estimate on both sides.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=float)
    point = error_rate(labels, probs, how)
    if resamples == 0 or len(labels) == 0:
        return point, point
    rng = np.random.default_rng(seed)
    rates = np.empty(resamples)
    for b in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        lab, pr = labels[pick], probs[pick]
        kept = np.unique(lab)
        if len(kept) < probs.shape[1]:  # re-code the classes present; cleanlab needs every class to have a row
            code = np.full(probs.shape[1], -1)
            code[kept] = np.arange(len(kept))
            pr = pr[:, kept]
            lab, pr = code[lab], pr / np.maximum(pr.sum(axis=1, keepdims=True), 1e-12)
        rates[b] = error_rate(lab, pr, how)
    low, high = np.quantile(rates, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
