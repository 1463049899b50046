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

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.clean import NearDupParams
from schemas.engine import EngineParams
from schemas.paths import SplitPaths
from schemas.split import SplitParams
from stages.lib.core.errors import StageError, cli
from stages.lib.core.ids import text_key
from stages.lib.core.io import read_rows, write_parquets
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.engine import split as on_ray
from stages.lib.engine.session import ray_session
from stages.lib.split.splitting import (
    SPLITS,
    check_presence,
    column_split,
    find_leaks,
    group_ids,
    hash_split,
    random_split,
    time_split,
)

log = get_logger("split")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out", "leakage.exact", "leakage.near")

REASONS = ("leak_exact", "leak_near")


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
    for name, key in ((cfg.group_by, "group_by"), (cfg.column, "column"), (cfg.time_column, "time_column")):
        if name is not None and name not in columns:
            hint = " (the clean stage adds it; or set split.group_by: null)" if key == "group_by" else ""
            raise StageError(f"split.{key} '{name}' is not a rows column{hint}; columns: {', '.join(sorted(columns))}")
    labeled = [r for r in rows if r["label"] is not None]
    unlabeled = [r for r in rows if r["label"] is None]
    if not labeled:
        raise StageError(
            f"none of the {len(rows)} rows has a label: check label.classes, label.imports and the "
            "label metrics (metrics/label.json)"
        )
    fractions = cfg.fractions.model_dump()
    texts = [r["text"] for r in labeled]
    groups = group_ids([_str(r.get(cfg.group_by)) for r in labeled] if cfg.group_by else None, texts)
    if cfg.method == "column":
        assigned = column_split([_str(r.get(cfg.column)) for r in labeled], cfg.column)
    elif cfg.method == "time":
        assigned = time_split(
            [_str(r.get(cfg.time_column)) for r in labeled], [r["id"] for r in labeled], fractions, cfg.time_column
        )
    elif cfg.method == "hash":
        assigned = hash_split([r["id"] for r in labeled], groups, fractions, cfg.seed)
    else:
        assigned = random_split([r["label"] for r in labeled], groups, fractions, cfg.seed, cfg.stratify)
    expected = [s for s in SPLITS if fractions[s] > 0]
    check_presence([r["label"] for r in labeled], assigned, expected, cfg.method)

    nd = near_dup or NearDupParams()
    if engine is not None and engine.kind == "ray":
        with ray_session(engine.ray.address, engine.ray.num_cpus) as cpus:
            finder = on_ray.pairs_finder(cpus)
            leaks = find_leaks(texts, assigned, cfg.near_threshold, nd.ngram, nd.unit, nd.lowercase, finder)
    else:
        leaks = find_leaks(texts, assigned, cfg.near_threshold, nd.ngram, nd.unit, nd.lowercase)
    kinds = Counter(kind for kind, _, _ in leaks.values())
    if leaks:
        examples = "; ".join(
            f"{assigned[i]} row {labeled[i]['id']} = {assigned[j]} row {labeled[j]['id']} ({kind}, {score})"
            for i, (kind, j, score) in sorted(leaks.items())[:3]
        )
        message = (
            f"{len(leaks)} validation/test rows duplicate a row of an earlier split "
            f"(exact {kinds['exact']}, near {kinds['near']}); e.g. {examples}"
        )
        if cfg.on_leakage == "fail":
            raise StageError(
                message + ". Group them (split.group_by), raise split.near_threshold, or set "
                "split.on_leakage: drop_from_test"
            )
        log.warning(message + ("; dropped from validation/test" if cfg.on_leakage == "drop_from_test" else ""))

    out: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    rejects: list[dict[str, Any]] = []
    for i, (row, split) in enumerate(zip(labeled, assigned)):
        if i in leaks and cfg.on_leakage == "drop_from_test":
            kind, j, score = leaks[i]
            detail = f"{split} row duplicates {assigned[j]} row {labeled[j]['id']} (similarity {score})"
            rejects.append(
                reject(
                    "split",
                    f"leak_{kind}",
                    source=row["source"],
                    location=row.get("location"),
                    row_id=row["id"],
                    detail=detail,
                    raw=row["text"],
                )
            )
            continue
        out[split].append({**row, "split": split})
    out["unlabeled"] = [{**r, "split": "unlabeled"} for r in unlabeled]

    schema = table.schema.append(pa.field("split", pa.string())) if "split" not in columns else table.schema
    folder = Path(paths.dir)
    tables = {
        folder / f"{name}.parquet": pa.Table.from_pylist(sorted(part, key=lambda r: r["id"]), schema=schema)
        for name, part in out.items()
    }
    tables[folder / "rejects.parquet"] = rejects_table(rejects, sort_key=lambda r: (r["reason"], r["id"]))
    write_parquets(tables)
    log.info("wrote %s to %s", {k: len(v) for k, v in out.items()}, folder)

    classes = sorted({r["label"] for r in labeled})
    eval_keys = {text_key(r["text"]) for s in ("validation", "test") for r in out[s]}
    n_labeled = sum(len(out[s]) for s in SPLITS)
    dropped = Counter(r["reason"] for r in rejects)
    return {
        "rows_in": len(rows),
        "rows_out": n_labeled + len(unlabeled),
        "dropped": {r: dropped.get(r, 0) for r in REASONS},
        "method": cfg.method,
        "groups": int(groups.max()) + 1 if len(groups) else 0,
        "splits": {
            **{
                s: {
                    "rows": len(out[s]),
                    "share": round(len(out[s]) / n_labeled, 6) if n_labeled else 0.0,
                    "classes": {c: sum(r["label"] == c for r in out[s]) for c in classes},
                }
                for s in SPLITS
            },
            "unlabeled": {"rows": len(unlabeled)},
        },
        "leakage": {
            "exact": kinds["exact"],
            "near": kinds["near"],
            "action": cfg.on_leakage,
            "remaining": 0 if cfg.on_leakage == "drop_from_test" else len(leaks),
            # unlabeled texts feed base-model pre-training: a copy of an evaluation text there is a softer leak
            "unlabeled_exact": sum(text_key(r["text"]) in eval_keys for r in unlabeled),
        },
    }


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def main() -> None:
    params = load_params()
    p = params.paths.split
    if params.task == "sft":  # conversations, grouped by cluster: stages/lib/chat/split.py
        from stages.lib.chat import split as chat

        nd = params.clean
        metrics = chat.run(params.split, nd.near_dup, nd.prompt_near_dup, params.paths.clean.rows, p.dir)
    else:
        metrics = run(params.split, p, params.paths.label.rows, params.clean.near_dup, params.engine)
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
