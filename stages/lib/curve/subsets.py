"""Nested, stratified, group-aware subsets of a train split: the smaller always inside the larger.

Groups (near-duplicate clusters) are kept whole, so no subset holds half a cluster. Each group joins the stratum
of its most common label; the groups of each stratum are shuffled with the seed and then interleaved by their
relative position in the stratum, so that every prefix of the order has close to the full split's label mix.
A subset is the shortest prefix holding at least its fraction of the rows: prefixes of one order are nested.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


def group_order(labels: Sequence[str | None], groups: Sequence[str], seed: int) -> list[str]:
    """Groups in an order whose every prefix is stratified by label."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for label, group in zip(labels, groups):
        votes[group][str(label)] += 1
    strata: dict[str, list[str]] = defaultdict(list)
    for group in sorted(votes):
        strata[min(votes[group].items(), key=lambda kv: (-kv[1], kv[0]))[0]].append(group)
    rng = np.random.default_rng(seed)
    keyed: list[tuple[float, str, str]] = []
    for stratum in sorted(strata):
        members = strata[stratum]
        shuffled = [members[i] for i in rng.permutation(len(members))]
        total = sum(sum(votes[g].values()) for g in shuffled)
        before = 0
        for g in shuffled:  # keyed by the middle row of the group within its stratum: big groups count as big
            size = sum(votes[g].values())
            keyed.append(((before + size / 2) / total, stratum, g))
            before += size
    return [g for _, _, g in sorted(keyed)]


def nested_subsets(
    labels: Sequence[str | None], groups: Sequence[str], fractions: Sequence[float], seed: int
) -> dict[float, list[int]]:
    """Row indices (sorted) of the subset for each fraction; a smaller fraction's rows are in every larger one."""
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        rows_of[group].append(i)
    order = group_order(labels, groups, seed)
    total = len(labels)
    out: dict[float, list[int]] = {}
    for fraction in sorted(fractions):
        want = int(np.ceil(fraction * total))
        taken: list[int] = []
        for group in order:
            if len(taken) >= want:
                break
            taken += rows_of[group]
        out[fraction] = sorted(taken)
    return out
