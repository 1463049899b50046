"""Review rounds: answers that correct labels, applied by policy, and the history of every change.

An import with `round: N` answers the review stage's tasks. Under `override`
its votes alone decide the rows it answers (a later round overrides an earlier
one); under `vote` they join the other votes. The history replays the rounds in
order and records each row whose label a round changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from stages.lib.label.votes import Vote

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("old_label", pa.string()),
        pa.field("new_label", pa.string()),
        pa.field("source", pa.string()),
        pa.field("round", pa.int64()),
    ]
)

Decide = Callable[[dict[str, list[Vote]]], dict[str, tuple[str | None, float | None, bool]]]


def votes_upto(
    flat: Mapping[str, list[Vote]], rounds: Mapping[str, int], policy: str, upto: int
) -> dict[str, list[Vote]]:
    """The votes in force after round `upto` (0 = before any review round)."""
    out = {}
    for row_id, votes in flat.items():
        kept = [v for v in votes if rounds.get(v.import_name, 0) <= upto]
        if policy == "override":
            latest = max((rounds.get(v.import_name, 0) for v in kept), default=0)
            if latest:
                kept = [v for v in kept if rounds.get(v.import_name, 0) == latest]
        out[row_id] = kept
    return out


def history(
    flat: Mapping[str, list[Vote]], rounds: Mapping[str, int], policy: str, decide: Decide
) -> list[dict[str, Any]]:
    """Every (row, round) whose label that round changed, in round then id order."""
    out: list[dict[str, Any]] = []
    before = decide(votes_upto(flat, rounds, policy, 0))
    for r in sorted(set(rounds.values())):
        after = decide(votes_upto(flat, rounds, policy, r))
        for row_id in sorted(flat):
            old, new = before[row_id][0], after[row_id][0]
            if old != new:
                names = sorted({v.import_name for v in flat[row_id] if rounds.get(v.import_name) == r})
                out.append({"id": row_id, "old_label": old, "new_label": new, "source": ",".join(names), "round": r})
        before = after
    return out


def summary(changes: list[dict[str, Any]], classes: list[str]) -> dict[str, Any]:
    """`relabeled` metrics: rows whose final label differs from their label before any round, by new label."""
    first = {}
    last = {}
    for c in changes:
        first.setdefault(c["id"], c["old_label"])
        last[c["id"]] = c["new_label"]
    changed = [i for i in first if first[i] != last[i]]
    return {
        "rows": len(changed),
        "to": {k: sum(last[i] == k for i in changed) for k in classes},
        "to_unlabeled": sum(last[i] is None for i in changed),
    }
