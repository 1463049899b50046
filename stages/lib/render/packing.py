"""Best-fit-decreasing packing of rendered rows into sequences of at most `max_length` tokens.

Each packed sequence keeps, per example, its own positions (`position_ids` restart at 0) and its length
(`seq_lens`), from which the trainer builds a block-diagonal attention mask. `position_ids` alone isolate
examples only with FlashAttention's varlen kernels; with SDPA or eager attention (every CPU run) examples would
attend to each other, so the lengths are part of the contract, not an option.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any


def best_fit_decreasing(lengths: Sequence[int], keys: Sequence[str], max_length: int) -> list[list[int]]:
    """Bins of row indices: longest rows first (ties by key, so the result is deterministic), each into the
    fullest bin that still has room, a new bin when none has."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], keys[i]))
    free: list[tuple[int, int]] = []  # (room left, bin index), sorted
    bins: list[list[int]] = []
    for i in order:
        n = lengths[i]
        if n > max_length:
            raise ValueError(f"row {keys[i]} has {n} tokens > max_length {max_length}; truncate before packing")
        at = bisect.bisect_left(free, (n, -1))
        if at == len(free):
            bins.append([i])
            bisect.insort(free, (max_length - n, len(bins) - 1))
            continue
        room, b = free.pop(at)
        bins[b].append(i)
        bisect.insort(free, (room - n, b))
    return bins


def pack(rows: Sequence[dict[str, Any]], max_length: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Packed sequences (`ids`, `input_ids`, `labels`, `position_ids`, `seq_lens`, and `weights` when the rows
    have them) and the packing report."""
    bins = best_fit_decreasing([r["length"] for r in rows], [r["id"] for r in rows], max_length)
    out = []
    for members in bins:
        members = sorted(members, key=lambda i: rows[i]["id"])  # order inside a bin does not change the loss
        out.append(
            {
                "ids": [rows[i]["id"] for i in members],
                "input_ids": [t for i in members for t in rows[i]["input_ids"]],
                "labels": [t for i in members for t in rows[i]["labels"]],
                "position_ids": [p for i in members for p in range(rows[i]["length"])],
                "seq_lens": [rows[i]["length"] for i in members],
            }
        )
        if "weights" in rows[members[0]]:
            out[-1]["weights"] = [w for i in members for w in rows[i]["weights"]]
    out.sort(key=lambda r: r["ids"][0])
    tokens = sum(r["length"] for r in rows)
    report = {
        "sequences": len(out),
        "efficiency": round(tokens / (len(out) * max_length), 6) if out else 0.0,
    }
    return out, report
