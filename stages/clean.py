"""clean: normalise, filter, mask PII, remove exact and near duplicates, resolve label conflicts.

Two passes over Arrow batches. Pass 1 (in `num_proc` workers) normalises, filters and masks each batch,
spills the kept rows to part files and returns only hashes and LSH band keys. Between the passes the
parent finds exact groups, LSH candidates (verified by true Jaccard), clusters and survivors on those
small arrays. Pass 2 streams the parts again and writes rows and rejects, both sorted by id.
`rows_in == rows_out + sum(dropped)` always; every dropped row is in the rejects file with its reason.
With `engine: ray` pass 1 and the LSH bucketing run on Ray Data (stages/lib/engine/clean.py) with the same
per-batch code; the outputs are the same bytes.
"""

from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.clean import CleanParams
from schemas.engine import EngineParams
from schemas.paths import CleanPaths
from schemas.rows import ROW_COLUMNS
from stages.lib.clean import dedup
from stages.lib.clean.batch import BatchCleaner, BatchResult, checked_input, sorted_batches
from stages.lib.clean.output import write_outputs
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import scratch_dir
from stages.lib.core.log import get_logger, progress
from stages.lib.core.metrics import write_metrics
from stages.lib.core.parallel import ordered_map
from stages.lib.engine import clean as on_ray
from stages.lib.engine.session import ray_session
from stages.lib.text import near_dup

log = get_logger("clean")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out")


def run(
    cfg: CleanParams, paths: CleanPaths, input_rows: str | Path, engine: EngineParams | None = None
) -> dict[str, Any]:
    """Clean the rows in `input_rows`; write rows and rejects atomically; return the metrics.

    `engine` (default local) says where pass 1 and the LSH bucketing run; the outputs do not depend on it.

    Raises StageError, before writing anything, when the input is missing or breaks the row contract.
    """
    source = checked_input(Path(input_rows), ROW_COLUMNS)
    near = dedup.resolved(cfg.near_dup.model_dump())
    factory = partial(
        BatchCleaner,
        normalize=cfg.normalize.model_dump(),
        filters=cfg.filters.model_dump(),
        pii=cfg.pii.model_dump(),
        near_dup=near,
    )
    settings = {**cfg.model_dump(include={"exact_dup", "survivor", "on_label_conflict"}), "near_dup": near}
    out_dir = Path(paths.rows).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    part_dir = str(scratch_dir(out_dir, ".clean-parts-"))  # journalled: a killed run's parts go at the next start
    engine = engine or EngineParams()
    try:
        t0 = time.perf_counter()
        if engine.kind == "ray":
            with ray_session(engine.ray.address, engine.ray.num_cpus) as cpus:
                num_rows = source.metadata.num_rows
                results = on_ray.first_pass(factory, str(input_rows), num_rows, cfg.batch_size, part_dir, cpus)
                _check_not_empty(results, input_rows)
                t1 = time.perf_counter()
                dedup_stats, decisions, ids, names = dedup.deduplicate(results, on_ray.candidate_pairs, **settings)
        else:
            batches = sorted_batches(source, cfg.batch_size, str(input_rows))
            total = -(-source.metadata.num_rows // cfg.batch_size)
            work = ordered_map(partial(factory, part_dir=part_dir), batches, cfg.num_proc)
            results = list(progress(work, desc="clean", total=total, unit="batch"))
            _check_not_empty(results, input_rows)
            t1 = time.perf_counter()
            dedup_stats, decisions, ids, names = dedup.deduplicate(results, near_dup.candidate_pairs, **settings)
        t2 = time.perf_counter()
        metrics = write_outputs(paths.rows, paths.rejects, results, decisions, ids, names)
        t3 = time.perf_counter()
        # timings go to the log, not the metrics: metrics must not change when nothing else did
        log.info("seconds: normalise/filter/mask/minhash %.1f, dedup %.1f, write %.1f", t1 - t0, t2 - t1, t3 - t2)
    finally:
        shutil.rmtree(part_dir, ignore_errors=True)
    metrics["duplicates"] = dedup_stats | {"bands": near["bands"], "rows": near["rows"]}
    metrics["label_conflicts"] = decisions.label_conflicts
    metrics["labels_changed"] = decisions.labels_changed
    metrics["labels_filled"] = decisions.labels_filled
    _log_summary(metrics)
    return metrics


def _check_not_empty(results: list[BatchResult], input_rows: str | Path) -> None:
    if not results:
        raise StageError(f"{input_rows} has no rows; nothing to clean (see the ingest metrics and rejects)")


def _log_summary(metrics: dict[str, Any]) -> None:
    dropped = {k: v for k, v in metrics["dropped"].items() if v}
    log.info("rows in %d, out %d, dropped %s", metrics["rows_in"], metrics["rows_out"], dropped or "none")
    log.info("changed per step %s; PII masked %s", metrics["changed"], metrics["pii"])
    log.info("duplicates %s; label conflicts %d", metrics["duplicates"], metrics["label_conflicts"])


def main() -> None:
    params = load_params()
    p = params.paths.clean
    if params.task == "sft":  # conversations: stages/lib/chat/clean.py
        from stages.lib.chat import clean as chat

        metrics = chat.run(params.clean, params.paths.ingest.rows, p.rows, p.rejects, p.conflicts)
    else:
        metrics = run(params.clean, p, input_rows=params.paths.ingest.rows, engine=params.engine)
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
