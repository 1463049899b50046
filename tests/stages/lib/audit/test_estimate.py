"""The estimated label-error rate against planted rates of 0%, 5%, 10% and 20%, with its bootstrap interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from schemas.audit import AuditParams
from stages.audit import settings
from stages.lib.audit.estimate import error_rate_interval
from stages.lib.audit.findings import score
from stages.lib.audit.noise import flip_labels

REPO = Path(__file__).parents[4]


def sms(n: int) -> list[tuple[str, str]]:
    lines = (REPO / "data/sample/sms_spam_collection/SMSSpamCollection").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines[:n]]


def trec(n: int) -> list[tuple[str, str]]:
    """n questions of the TREC training file (coarse classes), a fixed sample."""
    lines = (REPO / "benchmarks/data/trec/train_5500.label").read_text(encoding="latin-1").splitlines()
    pick = sorted(np.random.default_rng(0).choice(len(lines), n, replace=False).tolist())
    return [(lines[i].split(" ", 1)[0].split(":")[0], lines[i].split(" ", 1)[1]) for i in pick]


def estimate(pairs: list[tuple[str, str]], rate: float) -> tuple[float, float, float, float]:
    """(true rate, estimate, low, high) after flipping `rate` of each class's labels (seed 0)."""
    noisy, flipped = flip_labels([label for label, _ in pairs], rate, seed=0)
    rows = [
        {"id": f"r{n:04d}", "text": t, "label": lab, "split": "train"}
        for n, ((_, t), lab) in enumerate(zip(pairs, noisy))
    ]
    cfg = AuditParams()
    s = score(rows, **settings(cfg))
    low, high = error_rate_interval(s["labels"], s["probs"], 100, 0.95, 0, cfg.error_estimate)
    return float(flipped.mean()), s["result"].error_rate, low, high


@pytest.mark.parametrize(
    ("data", "tolerance"),
    # 1,000 SMS messages (two classes); 2,000 TREC questions (six classes: a weaker model, a looser estimate)
    [("sms", 0.03), pytest.param("trec", 0.05, marks=pytest.mark.slow)],
)
def test_estimate_follows_planted_rates(data, tolerance):
    pairs = sms(1000) if data == "sms" else trec(2000)
    found = [estimate(pairs, rate) for rate in (0.0, 0.05, 0.1, 0.2)]
    for true, est, low, high in found:
        assert abs(est - true) <= tolerance, found
        assert low <= est <= high and high - low < 0.15, found
    estimates = [est for _, est, _, _ in found]
    assert estimates == sorted(estimates), found  # more planted noise, a higher estimate
    assert found[-1][1] - found[0][1] >= 0.1, found


def test_interval_is_a_point_without_resamples_and_deterministic():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.3, 0.7], [0.1, 0.9], [0.6, 0.4]])
    low, high = error_rate_interval(labels, probs, 0, 0.95, 0)
    assert low == high
    assert error_rate_interval(labels, probs, 50, 0.9, 3) == error_rate_interval(labels, probs, 50, 0.9, 3)
