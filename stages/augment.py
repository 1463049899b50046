"""augment: new training rows from the train split with the declared text operations.

Reads the split folder, writes the augmented folder: train = original rows plus
the generated ones (new `id`, `origin_id` = the original row, `aug_op` = the
operation chain, label inherited), validation/test/unlabeled copied byte for byte,
and rejects.parquet with every generated row that was dropped and why.
`candidates == generated + sum(dropped)`; `rows_out == rows_in + generated`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.augment import AugmentParams
from schemas.paths import AugmentPaths
from stages.lib.augment.augmentation import (
    DROP_REASONS,
    Deduper,
    augment_rows,
    build_transform,
    class_counts,
    imbalance_ratio,
)
from stages.lib.core.errors import StageError, cli
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.splitdir import check_split_dir, read_train, row_rejects, texts, to_table, write_split_dir

log = get_logger("augment")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out")


def run(cfg: AugmentParams, paths: AugmentPaths, split_dir: str | Path) -> dict[str, Any]:
    """Generate rows from train, write the augmented folder atomically, return the metrics.

    Raises StageError before writing when an input file is missing, `per_class`
    names a label train does not have, or an operation's data (WordNet, a model
    folder) is missing.
    """
    source = check_split_dir(split_dir)
    train = read_train(source)
    rows = sorted(train.to_pylist(), key=lambda r: r["id"])
    before = class_counts(r["label"] for r in rows)
    unknown = sorted(set(cfg.per_class) - set(before))
    if unknown:
        raise StageError(
            f"augment.per_class names labels that are not in the train split: {unknown}; train has {sorted(before)}"
        )
    transforms = [build_transform(op, cfg.seed, paths.nltk_data) for op in cfg.operations]

    labelled = {k: v for k, v in before.items() if k is not None}
    majority = min(labelled, key=lambda k: (-labelled[k], k)) if labelled else None

    def multiplier(label: str | None) -> float:
        # unlabeled train rows (if split kept any) have no class to augment toward
        if label is None:
            return 0.0
        if label in cfg.per_class:
            return cfg.per_class[label]
        if cfg.minority_multiplier is not None and label != majority:
            return cfg.minority_multiplier
        return cfg.default_multiplier

    deduper = Deduper(seen={r["text"] for r in rows}, eval_texts=texts(source, ("validation", "test")))
    outcome = augment_rows(rows, transforms, multiplier, cfg.seed, deduper, cfg.max_rows)
    out_rows = rows + outcome.kept
    write_split_dir(
        paths.dir,
        source,
        {"train": to_table(out_rows, train.schema), "rejects": row_rejects("augment", outcome.dropped)},
    )
    dropped = dict.fromkeys(DROP_REASONS, 0)
    for row in outcome.dropped:
        dropped[row["_reason"]] += 1
    log.info(
        "train: %d rows in, %d generated, %d dropped %s",
        len(rows),
        len(outcome.kept),
        len(outcome.dropped),
        {k: v for k, v in dropped.items() if v} or "",
    )
    after = class_counts(r["label"] for r in out_rows)
    by_op: dict[str, int] = {}
    for row in outcome.kept:
        by_op[row["aug_op"]] = by_op.get(row["aug_op"], 0) + 1
    return {
        "rows_in": len(rows),
        "rows_out": len(out_rows),
        "candidates": len(outcome.kept) + len(outcome.dropped),
        "generated": len(outcome.kept),
        "dropped": dropped,
        "operations": outcome.per_op,
        "aug_op": dict(sorted(by_op.items())),
        "class_counts": {"before": before, "after": after},
        "imbalance_ratio": {"before": imbalance_ratio(before), "after": imbalance_ratio(after)},
    }


def main() -> None:
    params = load_params()
    metrics = run(params.augment, params.paths.augment, params.paths.split.dir)
    p = params.paths.augment
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
