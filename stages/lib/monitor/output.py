"""monitor's outputs: the scored rows, the rejects, and the worst rows as review tasks."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from schemas.audit import AuditParams
from schemas.paths import MonitorPaths
from schemas.review import ReviewParams
from stages.lib.core.io import atomic_path, write_table
from stages.lib.core.rejects import rejects_table
from stages.lib.review import exports
from stages.lib.review.queues import params_hash

SCORED = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("source", pa.string()),
        pa.field("location", pa.string()),
        pa.field("drift_score", pa.float64()),
        pa.field("predicted", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("entropy", pa.float64()),
    ]
)


def worst(scored: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Half the budget to the most drifted rows, the rest to the least confident; each row once."""
    by_drift = sorted(scored, key=lambda r: (-r["drift_score"], r["id"]))
    by_doubt = sorted(scored, key=lambda r: (-r["entropy"], r["id"]))
    picked, seen = [], set()
    for pool, share in ((by_drift, budget // 2), (by_doubt, budget)):
        for r in pool:
            if len(picked) >= share:
                break
            if r["id"] not in seen:
                seen.add(r["id"])
                reason = f"drift={r['drift_score']:.3f}" if pool is by_drift else f"entropy={r['entropy']:.3f}"
                picked.append(
                    {**r, "label": None, "suggested_label": r["predicted"], "score": r["confidence"], "reason": reason}
                )
    return picked


def write_outputs(
    paths: MonitorPaths,
    scored: list[dict[str, Any]],
    rejects: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    review: ReviewParams,
    audit: AuditParams,
) -> None:
    """scored.parquet, rejects.parquet and review/ in `paths.dir`, replaced together."""
    with atomic_path(paths.dir) as tmp:
        tmp.mkdir(parents=True)
        write_table(pa.Table.from_pylist(scored, schema=SCORED), tmp / "scored.parquet")
        write_table(rejects_table(rejects), tmp / "rejects.parquet")
        exports.write_queue(tmp / "review", tasks, review.formats, review.question, params_hash(audit, review))
