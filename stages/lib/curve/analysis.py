"""The learning-curve analysis: a power-law fit per approach, the interval of its exponent, the rows each
approach needs for the target, a check of the fit one doubling ahead, and where the curves cross."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

import numpy as np

from schemas.curve import CurveParams, SftCurveParams
from stages.lib.curve import powerlaw

EXTRAPOLATION_LIMIT = 2.0  # beyond twice the largest train set seen, a fitted curve is a guess
# Beyond a hundred times the data seen, the rows a fit asks for are not a number to act on (a nearly flat fit
# once asked for 10^22): they are reported as "more than" this bound.
ESTIMATE_LIMIT = 100.0


def analyse(
    runs: list[dict[str, Any]],
    cfg: CurveParams | SftCurveParams,
    majority_f1: float | None,
    *,
    metric: str = "macro_f1",
    target: float | None = None,
) -> dict[str, Any]:
    """Per approach: the fit, the interval of b, the rows needed for the target, the fit check; crossings.

    `metric` is the runs' score in [0, 1] (macro_f1 for the classifiers, compare.metric's answer score for SFT)
    and `target` the score to reach (cfg.target_macro_f1 when None). A run at or below the majority class's
    macro-F1 (`majority_f1`; None: no such floor), or marked `failed` (an SFT run whose answers never stop),
    counts as failed (Mosbach et al. 2021): it is kept in the fit, since a failure rate is part of what an
    approach costs at that size, and counted.
    """
    target = cfg.target_macro_f1 if target is None else target
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by[r["approach"]].append(r)
    largest = max(r["train_rows"] for r in runs)
    fits: dict[str, powerlaw.Fit] = {}
    out: dict[str, Any] = {"approaches": {}, f"target_{metric}": target, "largest_train_rows": largest}
    for name, rs in sorted(by.items()):
        n = [r["train_rows"] for r in rs]
        err = [1 - r[metric] for r in rs]
        entry: dict[str, Any] = {
            f"{metric}_at_largest": round(float(np.mean([r[metric] for r in rs if r["train_rows"] == largest])), 6),
            "spread_at_smallest": _spread(rs, metric),
            "failed_runs": sum(
                1 for r in rs if r.get("failed") or (majority_f1 is not None and r[metric] <= majority_f1)
            ),
        }
        try:
            f = powerlaw.fit(n, err)
        except (RuntimeError, ValueError) as exc:
            entry["fit"] = None
            entry["fit_error"] = str(exc)
            out["approaches"][name] = entry
            continue
        fits[name] = f
        b = cfg.bootstrap
        low, high = powerlaw.exponent_interval(n, err, n_resamples=b.n_resamples, confidence=b.confidence, seed=b.seed)
        needed = f.rows_for(1 - target)
        beyond = needed is not None and needed > ESTIMATE_LIMIT * largest
        entry |= {
            "fit": {"a": round(f.a, 6), "b": round(f.b, 6), "c": round(f.c, 6)},
            "b_interval": [round(low, 4), round(high, 4)],
            f"{metric}_ceiling": round(1 - f.c, 6),
            "rows_for_target": None if needed is None or beyond else round(needed),
            "rows_for_target_extrapolated": needed is not None and needed > EXTRAPOLATION_LIMIT * largest,
            "rows_for_target_beyond": round(ESTIMATE_LIMIT * largest) if beyond else None,
            "check": _check(n, err, largest, metric),
        }
        out["approaches"][name] = entry
    smallest = min(r["train_rows"] for r in runs)
    out["crossings"] = {
        f"{a} vs {b}": [round(x) for x in powerlaw.crossings(fits[a], fits[b], smallest, EXTRAPOLATION_LIMIT * largest)]
        for a, b in combinations(sorted(fits), 2)
    }
    return out


def _spread(rs: list[dict[str, Any]], metric: str) -> dict[str, float]:
    smallest = min(r["fraction"] for r in rs)
    values = [r[metric] for r in rs if r["fraction"] == smallest]
    return {
        "runs": len(values),
        "min": round(min(values), 6),
        "max": round(max(values), 6),
        "std": round(float(np.std(values)), 6),
    }


def _check(n: list[int], err: list[float], largest: int, metric: str) -> dict[str, Any] | None:
    """Fit without the largest subset, predict it: how wrong the curve is one doubling ahead."""
    keep = [i for i, x in enumerate(n) if x < largest]
    if len({n[i] for i in keep}) < 3:
        return None
    try:
        f = powerlaw.fit([n[i] for i in keep], [err[i] for i in keep])
    except (RuntimeError, ValueError):
        return None
    actual = float(np.mean([1 - e for x, e in zip(n, err) if x == largest]))
    predicted = float(1 - f.error(largest))
    return {
        f"predicted_{metric}": round(predicted, 6),
        f"actual_{metric}": round(actual, 6),
        "abs_error": round(abs(predicted - actual), 6),
    }
