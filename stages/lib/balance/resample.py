"""The balance stage's steps (stages/balance.py runs them): resample train, map sampler indices back, metrics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from schemas.balance import BalanceParams
from stages.lib.augment.augmentation import (
    DROP_REASONS,
    Deduper,
    Outcome,
    build_transform,
    imbalance_ratio,
    synthesize_rows,
)
from stages.lib.balance.sampling import SAMPLERS, resample_indices, target_counts_over
from stages.lib.core.ids import copy_key, row_id
from stages.lib.core.log import get_logger
from stages.lib.core.splitdir import texts
from stages.lib.model.tfidf import vectorizer

log = get_logger("balance")

# Why a train row is not in the output; every key is always written.
REASONS = ("under_sampling", "cleaning")


def resample(
    cfg: BalanceParams,
    rows: list[dict[str, Any]],
    labeled: list[dict[str, Any]],
    kind: str | None,
    nltk_data: str,
    source: Path,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], Outcome, dict[str, int]]:
    """Labeled train rows resampled as `cfg.strategy` says: (output rows, added, removed, synthetic, shortfall).

    `source` is the input split folder: the synthetic strategy drops candidates equal to its validation/test texts.
    """
    labels = [r["label"] for r in labeled]
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    synthetic = Outcome()
    shortfall: dict[str, int] = {}
    if cfg.strategy == "synthetic":
        needed = target_counts_over(cfg.sampling_strategy, labels)
        transforms = [build_transform(op, cfg.seed, nltk_data) for op in cfg.synthetic.operations]
        by_label: dict[str, list[dict[str, Any]]] = {}
        for r in labeled:
            by_label.setdefault(r["label"], []).append(r)
        deduper = Deduper(seen={r["text"] for r in rows}, eval_texts=texts(source, ("validation", "test")))
        synthetic, shortfall = synthesize_rows(
            by_label, needed, transforms, cfg.seed, deduper, cfg.synthetic.max_attempts
        )
        added = synthetic.kept
        for label, short in shortfall.items():
            if short:
                log.warning(
                    "synthetic: %d of %d rows for '%s' could not be generated (duplicates or unchanged)",
                    short,
                    needed[label],
                    label,
                )
        out = labeled + added
    elif cfg.strategy in SAMPLERS:
        features = None
        if SAMPLERS[cfg.strategy][2]:
            features = vectorizer(**cfg.features.model_dump()).fit_transform([r["text"] for r in labeled])
        indices = resample_indices(cfg.strategy, cfg.sampling_strategy, labels, features, cfg.seed, cfg.n_neighbors)
        out, added, removed = map_back(labeled, indices.tolist(), cfg.strategy, kind or "")
    else:
        out = labeled
    return out, added, removed, synthetic, shortfall


def map_back(
    rows: list[dict[str, Any]], indices: list[int], strategy: str, kind: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows selected by `sample_indices_`: (output rows, copies added, rows removed with `_reason`).

    The first occurrence of an index is the row itself; each repeat is a copy
    with a new id, `origin_id` pointing at the original and `aug_op` = strategy.
    """
    seen: Counter[int] = Counter()
    out: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for i in indices:
        row = rows[i]
        seen[i] += 1
        if seen[i] == 1:
            out.append(row)
            continue
        origin = row["origin_id"] or row["id"]
        copy = {
            **row,
            "id": row_id(row["source"], copy_key(row["id"], seen[i] - 1)),
            "origin_id": origin,
            "aug_op": f"{row['aug_op']}+{strategy}" if row["aug_op"] else strategy,
        }
        out.append(copy)
        added.append(copy)
    reason = "cleaning" if kind == "clean" else "under_sampling"
    removed = [{**rows[i], "_reason": reason, "_detail": strategy} for i in range(len(rows)) if i not in seen]
    return out, added, removed


def balance_metrics(
    cfg: BalanceParams,
    n_rows: int,
    out: list[dict[str, Any]],
    added: list[dict[str, Any]],
    removed: list[dict[str, Any]],
    synthetic: Outcome,
    shortfall: dict[str, int],
    counts: dict[str, dict[str, int]],
    weights: Any,
) -> dict[str, Any]:
    """The balance stage's metrics."""
    dropped = dict.fromkeys(REASONS, 0)
    for r in removed:
        dropped[r["_reason"]] += 1
    syn_dropped = dict.fromkeys(DROP_REASONS, 0)
    for r in synthetic.dropped:
        syn_dropped[r["_reason"]] += 1
    return {
        "strategy": cfg.strategy,
        "rows_in": n_rows,
        "rows_out": len(out),
        "added": len(added),
        "dropped": dropped,
        "class_counts": counts,
        "imbalance_ratio": {k: imbalance_ratio(v) for k, v in counts.items()},
        "class_weights": weights,
        "synthetic": {
            "candidates": len(synthetic.kept) + len(synthetic.dropped),
            "generated": len(synthetic.kept),
            "dropped": syn_dropped,
            "operations": synthetic.per_op,
            "shortfall": dict(sorted(shortfall.items())),
        },
    }
