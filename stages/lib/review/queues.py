"""Which rows go to annotators: the audit's worst issues, and the unlabelled rows the model is least sure of."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np


def params_hash(*sections: Any) -> str:
    """A short hash of the params that made the suggestions: the tasks' `model_version`."""
    blob = json.dumps([s.model_dump(mode="json") if hasattr(s, "model_dump") else s for s in sections], sort_keys=True)
    return "refinery-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


def issue_queue(issues: Sequence[dict[str, Any]], kinds: Sequence[str], budget: int) -> list[dict[str, Any]]:
    """The first `budget` distinct rows, by kind priority then the audit's score (worst first)."""
    seen, out = set(), []
    for kind in kinds:
        for r in sorted((r for r in issues if r["issue"] == kind), key=lambda r: (r["score"], r["id"])):
            if len(out) >= budget:
                return out
            if r["id"] in seen:
                continue
            seen.add(r["id"])
            out.append(r)
    return out


def uncertainty(probs: np.ndarray, how: str) -> np.ndarray:
    """Higher = less sure: 1 - (p1 - p2) for `margin`, Shannon entropy (nats) for `entropy`."""
    if how == "entropy":
        p = np.clip(probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(axis=1)
    top = np.sort(probs, axis=1)
    return 1.0 - (top[:, -1] - top[:, -2])


def active_queue(
    ids: Sequence[str],
    groups: Sequence[str],
    scores: np.ndarray,
    budget: int,
    clusters: np.ndarray | None = None,
) -> list[int]:
    """Indices of the most uncertain rows, at most one per near-duplicate group.

    With `clusters` (k-means labels), picks go round robin over the clusters,
    each cluster's most uncertain first, so the batch covers the feature space.
    """
    order = sorted(range(len(ids)), key=lambda n: (-scores[n], ids[n]))
    if clusters is None:
        queues = [order]
    else:
        queues = [[n for n in order if clusters[n] == c] for c in sorted(set(clusters.tolist()))]
        queues.sort(key=lambda q: (-scores[q[0]], ids[q[0]]) if q else (0.0, ""))
    picked, used = [], set()
    cursor = [0] * len(queues)
    while len(picked) < budget and any(cursor[i] < len(q) for i, q in enumerate(queues)):
        for i, q in enumerate(queues):
            while cursor[i] < len(q) and groups[q[cursor[i]]] in used:
                cursor[i] += 1
            if cursor[i] < len(q) and len(picked) < budget:
                n = q[cursor[i]]
                cursor[i] += 1
                used.add(groups[n])
                picked.append(n)
    return picked
