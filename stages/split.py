"""split: one train/validation/test split that every approach shares, with no duplicate across it.

Reads label's rows. Labeled rows go to train/validation/test (a `split`
column added), rows without a label to unlabeled.parquet (always written,
maybe empty: the corpus for base-model pre-training). Groups (clean's
`dup_cluster`, plus rows with the same normalised text) never cross splits;
afterwards every validation/test row is checked for an exact or near
duplicate in an earlier split and handled by `on_leakage`.
`rows_in == rows_out + sum(dropped)` always. With `engine: ray` the near-duplicate leakage search runs
on Ray (stages/lib/engine/split.py); same bytes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.clean import NearDupParams
from schemas.engine import EngineParams
from schemas.paths import SplitPaths
from schemas.split import SplitParams
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import read_rows, write_parquets
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import rejects_table
from stages.lib.split.flow import REASONS, assign, check_columns, leakage, partition, split_metrics

log = get_logger("split")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out", "leakage.exact", "leakage.near")

__all__ = ["HEADLINE", "REASONS", "main", "run"]


def run(
    cfg: SplitParams,
    paths: SplitPaths,
    rows_path: str | Path,
    near_dup: NearDupParams | None = None,
    engine: EngineParams | None = None,
) -> dict[str, Any]:
    """Split, check leakage, write the four split files and rejects; return the metrics.

    `near_dup` is clean's section: its shingles (unit, ngram, lowercase) define what a near duplicate is,
    here as in clean. `engine` (default local) says where the near-duplicate leakage search runs; the outputs
    do not depend on it.

    Raises StageError, before writing anything, when a configured column is
    missing, a class is too small for every split, or leakage is found with
    `on_leakage: fail`.
    """
    table = read_rows(rows_path)
    rows = table.to_pylist()
    columns = set(table.column_names)
    check_columns(cfg, columns)
    labeled = [r for r in rows if r["label"] is not None]
    unlabeled = [r for r in rows if r["label"] is None]
    if not labeled:
        raise StageError(
            f"none of the {len(rows)} rows has a label: check label.classes, label.imports and the "
            "label metrics (metrics/label.json)"
        )
    texts = [r["text"] for r in labeled]
    groups, assigned = assign(cfg, labeled, texts)
    leaks, kinds = leakage(cfg, labeled, texts, assigned, near_dup, engine)
    out, rejects = partition(cfg, labeled, unlabeled, assigned, leaks)

    schema = table.schema.append(pa.field("split", pa.string())) if "split" not in columns else table.schema
    folder = Path(paths.dir)
    tables = {
        folder / f"{name}.parquet": pa.Table.from_pylist(sorted(part, key=lambda r: r["id"]), schema=schema)
        for name, part in out.items()
    }
    tables[folder / "rejects.parquet"] = rejects_table(rejects, sort_key=lambda r: (r["reason"], r["id"]))
    write_parquets(tables)
    log.info("wrote %s to %s", {k: len(v) for k, v in out.items()}, folder)
    return split_metrics(cfg, len(rows), labeled, unlabeled, out, rejects, groups, leaks, kinds)


def main() -> None:
    params = load_params()
    p = params.paths.split
    if params.task == "sft":  # conversations, grouped by cluster: stages/lib/chat/split.py
        from stages.lib.chat import split as chat

        nd = params.clean
        metrics = chat.run(params.split, nd.near_dup, nd.prompt_near_dup, params.paths.label.rows, p.dir)
    else:
        metrics = run(params.split, p, params.paths.label.rows, params.clean.near_dup, params.engine)
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
