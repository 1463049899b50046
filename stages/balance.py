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

from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.balance import BalanceParams
from schemas.paths import BalancePaths
from stages.lib.augment.augmentation import class_counts
from stages.lib.balance.flow import flow_rows, upstream_counts
from stages.lib.balance.kinds import sampler_kind
from stages.lib.balance.resample import REASONS, balance_metrics, map_back, resample
from stages.lib.balance.sampling import check_strategy_against_data, class_weights
from stages.lib.core.errors import cli
from stages.lib.core.folders import CLASS_WEIGHTS_FILE
from stages.lib.core.io import write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.splitdir import check_split_dir, read_train, row_rejects, to_table, write_split_dir

log = get_logger("balance")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out")

__all__ = ["HEADLINE", "REASONS", "main", "map_back", "run"]


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

    out, added, removed, synthetic, shortfall = resample(cfg, rows, labeled, kind, nltk_data, source)
    out = out + unlabeled

    weights = class_weights(cfg.class_weights, [r["label"] for r in out if r["label"] is not None])
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
    return balance_metrics(cfg, len(rows), out, added, removed, synthetic, shortfall, counts, weights)


def main() -> None:
    params = load_params()
    p = params.paths
    details = {"ingested": p.ingest.details, "cleaned": p.clean.details, "labelled": p.label.details}
    metrics = run(params.balance, p.balance, p.augment.dir, p.augment.nltk_data, upstream_counts(details))
    write_metrics(metrics, HEADLINE, p.balance.metrics, p.balance.details)


if __name__ == "__main__":
    cli(main)
