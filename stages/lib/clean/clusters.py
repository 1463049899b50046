"""Duplicate clusters to decisions: which row survives, which are removed and why, and label conflicts.

Plain numpy in, numpy out, so the clean stage stays short and this is tested on tiny arrays.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

KEEP, EXACT_DUP, NEAR_DUP, LABEL_CONFLICT = 0, 1, 2, 3
STATUS_REASON = {EXACT_DUP: "exact_dup", NEAR_DUP: "near_dup", LABEL_CONFLICT: "label_conflict"}


@dataclass
class Decisions:
    status: np.ndarray  # (n,) int8: KEEP or the reason code
    survivor: np.ndarray  # (n,) int64: the row a removed row was a duplicate of (itself when kept)
    primary: np.ndarray  # (n,) int64: the cluster's main survivor, whose id is `dup_cluster`
    cluster_size: np.ndarray  # (n,) int64: rows in the row's cluster, removed ones included
    label: np.ndarray  # (n,) int64: label code after conflict handling (-1 = null)
    label_conflicts: int  # clusters whose rows carry two or more different non-null labels
    labels_changed: int  # survivors whose label was replaced by the majority
    labels_filled: int  # survivors with a null label that took the cluster's only label


def decide(
    cluster: np.ndarray,
    exact_group: np.ndarray,
    length: np.ndarray,
    label: np.ndarray,
    label_names: list[str],
    survivor_policy: str = "first",
    on_label_conflict: str = "majority",
) -> Decisions:
    """Decide every row of every cluster.

    cluster: cluster label per row (connected components); exact_group: rows with the same exact text share it;
    length: text length (for `longest`); label: label code per row, -1 for null, codes index `label_names`.
    Rows are in input order, so `first` means the smallest index. Ties of `longest` go to the smallest index.
    """
    n = len(cluster)
    idx = np.arange(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    out_label = label.astype(np.int64, copy=True)
    size = np.bincount(cluster, minlength=cluster.max() + 1 if n else 0)[cluster] if n else np.zeros(0, np.int64)

    # Order rows so the preferred survivor comes first within each cluster.
    order = np.lexsort((idx, -length, cluster)) if survivor_policy == "longest" else np.lexsort((idx, cluster))
    sorted_cluster = cluster[order]
    head = np.ones(n, dtype=bool)
    head[1:] = sorted_cluster[1:] != sorted_cluster[:-1]
    primary = np.empty(n, dtype=np.int64)
    primary[order] = order[np.maximum.accumulate(np.where(head, np.arange(n), 0))]
    survivor = primary.copy()

    conflicts = changed = filled = 0
    multi = np.flatnonzero(size > 1)
    if len(multi):
        # Rows of multi-row clusters grouped by cluster in preference order; small Python loop per such cluster.
        multi_order = order[size[order] > 1]
        bounds = np.flatnonzero(np.r_[True, cluster[multi_order][1:] != cluster[multi_order][:-1], True])
        for start, end in itertools.pairwise(bounds):
            rows = multi_order[start:end]
            main = rows[0]
            labels = Counter(int(c) for c in label[rows] if c >= 0)
            if len(labels) <= 1:
                if label[main] < 0 and labels:
                    out_label[main] = next(iter(labels))
                    filled += 1
                status[rows[1:]] = _dup_reason(rows[1:], main, exact_group)
                continue
            conflicts += 1
            if on_label_conflict == "drop":
                status[rows] = LABEL_CONFLICT
            elif on_label_conflict == "keep":
                first_of: dict[int, int] = {}
                for r in rows:  # preference order: the first row of each label survives
                    first_of.setdefault(int(label[r]), int(r))
                for r in rows:
                    s = first_of[int(label[r])]
                    survivor[r] = s
                    if s != r:
                        status[r] = _dup_reason(np.array([r]), s, exact_group)[0]
            else:  # majority
                top = max(labels.values())
                tied = sorted((c for c, k in labels.items() if k == top), key=lambda c: label_names[c])
                winner = int(label[main]) if int(label[main]) in tied else tied[0]
                if winner != label[main]:
                    out_label[main] = winner
                    changed += 1
                status[rows[1:]] = _dup_reason(rows[1:], main, exact_group)
    return Decisions(status, survivor, primary, size.astype(np.int64), out_label, conflicts, changed, filled)


def _dup_reason(rows: np.ndarray, survivor: int, exact_group: np.ndarray) -> np.ndarray:
    return np.where(exact_group[rows] == exact_group[survivor], EXACT_DUP, NEAR_DUP).astype(np.int8)
