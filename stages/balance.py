"""balance: resample the train split (imbalanced-learn or new text) and write per-class loss weights.

Reads the augmented folder, writes the balanced folder: train resampled,
validation/test/unlabeled copied byte for byte, class_weights.json
(`{"class_weights": {label: weight}}` or `{"class_weights": null}`) and
rejects.parquet (rows a sampler removed, synthetic candidates dropped), and
plots/balance_class_counts.json: rows per class through the pipeline (ingest's and
label's counts read from their details files, then split's train rows, augmented,
balanced). `rows_in + added == rows_out + sum(dropped)`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.balance import BalanceParams
from schemas.paths import BalancePaths
from stages.lib.augment.augmentation import (
    DROP_REASONS,
    Deduper,
    Outcome,
    build_transform,
    class_counts,
    imbalance_ratio,
    synthesize_rows,
)
from stages.lib.balance.flow import flow_rows, upstream_counts
from stages.lib.balance.kinds import sampler_kind
from stages.lib.balance.sampling import (
    SAMPLERS,
    check_strategy_against_data,
    class_weights,
    resample_indices,
    target_counts_over,
)
from stages.lib.core.errors import cli
from stages.lib.core.folders import CLASS_WEIGHTS_FILE
from stages.lib.core.ids import copy_key, row_id
from stages.lib.core.io import write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.splitdir import check_split_dir, read_train, row_rejects, texts, to_table, write_split_dir
from stages.lib.model.tfidf import vectorizer

log = get_logger("balance")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out")

# Why a train row is not in the output; every key is always written.
REASONS = ("under_sampling", "cleaning")


def run(
    cfg: BalanceParams,
    paths: BalancePaths,
    source_dir: str | Path,
    nltk_data: str,
    upstream: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """Resample train as configured, write the balanced folder and the plot data atomically, return the metrics.

    Raises StageError before writing when sampling_strategy does not fit the
    data (a float on more than two classes, unknown labels, counts an
    over-sampler cannot reach) or an operation's data is missing.
    """
    source = check_split_dir(source_dir)
    train = read_train(source)
    rows = sorted(train.to_pylist(), key=lambda r: r["id"])
    labeled = [r for r in rows if r["label"] is not None]
    unlabeled = [r for r in rows if r["label"] is None]  # no class to balance: passed through
    labels = [r["label"] for r in labeled]
    kind = sampler_kind(cfg.strategy)
    if kind is not None:
        check_strategy_against_data(cfg.strategy, cfg.sampling_strategy, labels)

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
    out = out + unlabeled

    weights = class_weights(cfg.class_weights, [r["label"] for r in out if r["label"] is not None])
    dropped = dict.fromkeys(REASONS, 0)
    for r in removed:
        dropped[r["_reason"]] += 1
    write_split_dir(
        paths.dir,
        source,
        {"train": to_table(out, train.schema), "rejects": row_rejects("balance", removed + synthetic.dropped)},
        {CLASS_WEIGHTS_FILE: {"class_weights": weights}},
    )
    counts = {
        "split": class_counts(r["label"] for r in rows if r["origin_id"] is None),
        "before": class_counts(r["label"] for r in rows),
        "after": class_counts(r["label"] for r in out),
    }
    write_json(flow_rows(upstream or {}, counts), paths.plot)  # upstream: ingest, clean, label per class
    log.info(
        "train: %d rows in, %d added, %d removed; classes %s -> %s; class weights %s",
        len(rows),
        len(added),
        len(removed),
        counts["before"],
        counts["after"],
        weights,
    )
    syn_dropped = dict.fromkeys(DROP_REASONS, 0)
    for r in synthetic.dropped:
        syn_dropped[r["_reason"]] += 1
    return {
        "strategy": cfg.strategy,
        "rows_in": len(rows),
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


def main() -> None:
    params = load_params()
    p = params.paths
    details = {"ingested": p.ingest.details, "cleaned": p.clean.details, "labelled": p.label.details}
    metrics = run(params.balance, p.balance, p.augment.dir, p.augment.nltk_data, upstream_counts(details))
    write_metrics(metrics, HEADLINE, p.balance.metrics, p.balance.details)


if __name__ == "__main__":
    cli(main)
