"""The split stage's steps (stages/split.py runs them): column checks, assignment, leakage, partition, metrics."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from schemas.clean import NearDupParams
from schemas.engine import EngineParams
from schemas.split import SplitParams
from stages.lib.core.errors import StageError
from stages.lib.core.ids import text_key
from stages.lib.core.log import get_logger
from stages.lib.core.rejects import reject
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

REASONS = ("leak_exact", "leak_near")


def check_columns(cfg: SplitParams, columns: set[str]) -> None:
    """Raise StageError when a configured column (group_by, column, time_column) is not a rows column."""
    for name, key in ((cfg.group_by, "group_by"), (cfg.column, "column"), (cfg.time_column, "time_column")):
        if name is not None and name not in columns:
            hint = " (the clean stage adds it; or set split.group_by: null)" if key == "group_by" else ""
            raise StageError(f"split.{key} '{name}' is not a rows column{hint}; columns: {', '.join(sorted(columns))}")


def assign(cfg: SplitParams, labeled: list[dict[str, Any]], texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """Group ids and the split of each labeled row, by `cfg.method`; checks every expected split has every class."""
    fractions = cfg.fractions.model_dump()
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
    return groups, assigned


def leakage(
    cfg: SplitParams,
    labeled: list[dict[str, Any]],
    texts: list[str],
    assigned: list[str],
    near_dup: NearDupParams | None,
    engine: EngineParams | None,
) -> tuple[dict[int, tuple[str, int, float]], Counter]:
    """Find validation/test rows duplicating an earlier split; fail or warn as `cfg.on_leakage` says."""
    nd = near_dup or NearDupParams()
    if engine is not None and engine.kind == "ray":
        with ray_session(**engine.ray.model_dump()) as cpus:
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
    return leaks, kinds


def partition(
    cfg: SplitParams,
    labeled: list[dict[str, Any]],
    unlabeled: list[dict[str, Any]],
    assigned: list[str],
    leaks: dict[int, tuple[str, int, float]],
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Rows per split (with a `split` column) and the rejects of leaked rows dropped under `drop_from_test`."""
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
    return out, rejects


def split_metrics(
    cfg: SplitParams,
    n_rows: int,
    labeled: list[dict[str, Any]],
    unlabeled: list[dict[str, Any]],
    out: dict[str, list[dict[str, Any]]],
    rejects: list[dict[str, Any]],
    groups: np.ndarray,
    leaks: dict[int, tuple[str, int, float]],
    kinds: Counter,
) -> dict[str, Any]:
    """The split stage's metrics."""
    classes = sorted({r["label"] for r in labeled})
    eval_keys = {text_key(r["text"]) for s in ("validation", "test") for r in out[s]}
    n_labeled = sum(len(out[s]) for s in SPLITS)
    dropped = Counter(r["reason"] for r in rejects)
    return {
        "rows_in": n_rows,
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
