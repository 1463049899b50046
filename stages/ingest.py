"""ingest: read every configured source into one table of canonical rows.

Output rows have `id`, `text`, `label`, `source`, `location` plus the kept
fields, sorted by id. Anything unreadable goes to the rejects file with its
source, location and reason; `rows_in == rows_out + sum(dropped)` always.

`python -m stages.ingest --inspect FILE` sniffs a new file and prints a source
block and `label.classes` ready to paste into params.yaml.

With `engine: ray` the input files are read in parallel on Ray (stages/lib/engine/ingest.py); same bytes out.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.engine import EngineParams
from schemas.ingest import IngestParams
from schemas.paths import IngestPaths
from schemas.rows import ROW_FIELDS
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import write_parquets
from stages.lib.core.log import get_logger, progress
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import rejects_table
from stages.lib.engine import ingest as on_ray
from stages.lib.engine.session import ray_session
from stages.lib.ingest.readers import read_source
from stages.lib.ingest.rows import REASONS, check_fields, to_rows

log = get_logger("ingest")

# What `dvc metrics show` lists; every counter (per source, per reason, per label) is in the details file.
HEADLINE = ("rows_in", "rows_out")


def run(
    cfg: IngestParams, paths: IngestPaths, root: Path = Path("."), engine: EngineParams | None = None
) -> dict[str, Any]:
    """Read all sources, write rows and rejects atomically, return the metrics.

    `engine` (default local) says where the files are read; the outputs do not depend on it.

    Raises StageError, before writing anything, when a source is missing, names
    a field that does not exist, or has more bad rows than `max_reject_fraction`.
    """
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    per_source: dict[str, Any] = {}
    read_on_ray = None
    if engine is not None and engine.kind == "ray":
        with ray_session(engine.ray.address, engine.ray.num_cpus) as cpus:
            read_on_ray = on_ray.read_sources(list(cfg.sources.values()), root, cpus)
    for k, source in enumerate(cfg.sources.values()):
        if read_on_ray is not None:
            records = read_on_ray[k]
        else:
            records = list(progress(read_source(source, root), desc=f"read {source.name}", unit="rows"))
        check_fields(source, records)
        kept, dropped = to_rows(source, records)
        counts = Counter(r["reason"] for r in dropped)
        per_source[source.name] = _counts(len(records), len(kept), counts)
        log.info(
            "read %d rows from %s (%s): kept %d, dropped %s",
            len(records),
            source.path,
            source.name,
            len(kept),
            dict(counts) or "none",
        )
        if records and len(dropped) / len(records) > cfg.max_reject_fraction:
            examples = "; ".join(f"{r['location']}: {r['reason']}" for r in dropped[:3])
            raise StageError(
                f"source '{source.name}': {len(dropped)} of {len(records)} rows could not be read "
                f"({len(dropped) / len(records):.1%} > ingest.max_reject_fraction={cfg.max_reject_fraction}); "
                f"reasons {dict(counts)}; e.g. {examples}. Check format, delimiter, quoting and encoding. "
                "Previous outputs were left untouched."
            )
        rows.extend(kept)
        rejects.extend(dropped)

    extra = sorted({k for r in rows for k in r} - {f.name for f in ROW_FIELDS} - {"location"})
    schema = pa.schema([*ROW_FIELDS, pa.field("location", pa.string())] + [pa.field(k, pa.string()) for k in extra])
    rows.sort(key=lambda r: r["id"])
    table = pa.Table.from_pylist(rows, schema=schema)
    write_parquets({paths.rows: table, paths.rejects: rejects_table(rejects)})
    log.info("wrote %d rows to %s and %d rejects to %s", len(rows), paths.rows, len(rejects), paths.rejects)

    total = Counter(r["reason"] for r in rejects)
    metrics = _counts(sum(s["rows_in"] for s in per_source.values()), len(rows), total)
    metrics["sources"] = per_source
    metrics["labels"] = dict(sorted(Counter(r["label"] or "<none>" for r in rows).items()))
    return metrics


def _counts(rows_in: int, rows_out: int, dropped: Counter[str]) -> dict[str, Any]:
    return {"rows_in": rows_in, "rows_out": rows_out, "dropped": {r: dropped.get(r, 0) for r in REASONS}}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--inspect":
        from stages.lib.ingest.inspect import inspect

        print(inspect(Path(sys.argv[2])))
        return
    if len(sys.argv) > 1:
        raise StageError("usage: python -m stages.ingest [--inspect FILE_OR_FOLDER]")
    params = load_params()
    if params.task == "sft":  # conversations: stages/lib/chat/ingest.py
        from stages.lib.chat import ingest as chat

        metrics = chat.run(params.ingest, params.paths.ingest)
    else:
        metrics = run(params.ingest, params.paths.ingest, engine=params.engine)
    write_metrics(metrics, HEADLINE, params.paths.ingest.metrics, params.paths.ingest.details)


if __name__ == "__main__":
    cli(main)
