"""Learning curves: error(n) = a * n**b + c fitted per approach, with a bootstrap interval on the exponent b.

c is the error the approach would keep with unlimited data, b < 0 how fast it gets there (Hestness et al. 2017;
Rosenfeld et al. 2020). With a handful of sizes the fit is rough: the uncertainty of b is reported, the fit is
checked by predicting the largest size from the smaller ones, and extrapolating past about twice the largest
train set seen is flagged as uncertain.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit


def power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a * np.power(n, b) + c


@dataclass(frozen=True)
class Fit:
    a: float
    b: float
    c: float

    def error(self, n: float | np.ndarray) -> np.ndarray:
        return power_law(np.asarray(n, dtype=float), self.a, self.b, self.c)

    def rows_for(self, target_error: float) -> float | None:
        """Rows needed to reach `target_error`; None when the fitted floor c is at or above it."""
        if target_error <= self.c or self.a <= 0:
            return None
        return float(((target_error - self.c) / self.a) ** (1.0 / self.b))


def fit(n: Sequence[float], error: Sequence[float]) -> Fit:
    """Least-squares fit with a > 0, -3 < b < 0, 0 <= c <= min(error) (the floor cannot exceed what was reached)."""
    x, y = np.asarray(n, dtype=float), np.asarray(error, dtype=float)
    if len(np.unique(x)) < 3:
        raise ValueError("a power law a*n^b + c needs at least 3 distinct sizes")
    floor = max(float(y.min()), 1e-9)
    start = (max(float(y.max() - y.min()), 1e-3) * float(x.min()) ** 0.5, -0.5, floor / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(power_law, x, y, p0=start, bounds=([0.0, -3.0, 0.0], [np.inf, 0.0, floor]), maxfev=20000)
    return Fit(*(float(p) for p in params))


def exponent_interval(
    n: Sequence[float], error: Sequence[float], *, n_resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of b: refit on runs resampled with replacement (resamples that cover fewer
    than 3 sizes are skipped)."""
    x, y = np.asarray(n, dtype=float), np.asarray(error, dtype=float)
    rng = np.random.default_rng(seed)
    exponents = []
    for _ in range(n_resamples):
        pick = rng.integers(0, len(x), len(x))
        if len(np.unique(x[pick])) < 3:
            continue
        try:
            exponents.append(fit(x[pick], y[pick]).b)
        except (RuntimeError, ValueError):
            continue
    if not exponents:
        return (float("nan"), float("nan"))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(exponents, [tail, 100 - tail])
    return float(low), float(high)


def crossings(first: Fit, second: Fit, low: float, high: float, points: int = 2000) -> list[float]:
    """Train sizes in [low, high] where the two fitted curves cross (sign changes on a log grid)."""
    grid = np.geomspace(low, high, points)
    gap = first.error(grid) - second.error(grid)
    where = np.nonzero(np.signbit(gap[:-1]) != np.signbit(gap[1:]))[0]
    return [float(np.sqrt(grid[i] * grid[i + 1])) for i in where]
