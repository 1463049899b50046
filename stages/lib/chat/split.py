"""split for conversations (task: sft): train/validation/test grouped by conversation and prompt cluster.

Rows sharing clean's `dup_cluster`, `prompt_cluster` or normalised conversation text form one group, so a
near-duplicate conversation or prompt never crosses splits. Leakage is then measured with the classification
split's `find_leaks` on the conversation text and on the prompt text, and handled by `on_leakage`.
The folder has the classification layout (train, validation, test and an empty unlabeled .parquet, plus
rejects.parquet). `rows_in == rows_out + sum(dropped)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from schemas.chat import ChatSplitParams
from schemas.clean import NearDupParams
from stages.lib.chat.conversation import conversation_text, prompt_turns
from stages.lib.core.errors import StageError
from stages.lib.core.ids import text_key
from stages.lib.core.io import read_rows, write_parquets
from stages.lib.core.log import get_logger
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.split.splitting import SPLITS, find_leaks, hash_split, random_split
from stages.lib.text.near_dup import connected_clusters

log = get_logger("split")
REASONS = ("leak_exact", "leak_near", "leak_prompt")


def conversation_groups(keys: Sequence[Sequence[str | None]]) -> np.ndarray:
    """One group per row: rows equal in any of the key columns share it (transitively)."""
    n = len(keys[0]) if keys else 0
    edges = []
    for column in keys:
        first: dict[str, int] = {}
        edges += [(first.setdefault(k, i), i) for i, k in enumerate(column) if k is not None]
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return connected_clusters(n, pairs)


def run(
    cfg: ChatSplitParams,
    near_dup: NearDupParams,
    prompt_near_dup: NearDupParams,
    rows_path: str | Path,
    folder: str | Path,
) -> dict[str, Any]:
    """Split the cleaned conversations, measure and handle leakage, write the split folder; return metrics.

    Conversation leakage uses `split.near_threshold` with clean.near_dup's shingles; prompt leakage uses
    clean.prompt_near_dup (shingles and threshold), the definition the prompt groups were built with.

    Raises StageError before writing anything when there are too few groups for the fractions or when leakage
    is found with `on_leakage: fail`.
    """
    table = read_rows(rows_path)
    rows = table.to_pylist()
    if not rows:
        raise StageError(f"{rows_path} has no rows to split; see the clean metrics and rejects")
    texts = [r["text"] for r in rows]
    prompts = [conversation_text(prompt_turns(r["messages"])) for r in rows]
    keys = [[text_key(t) for t in texts]] + [
        [r.get(c) for r in rows] for c in ("dup_cluster", "prompt_cluster") if c in table.column_names
    ]
    groups = conversation_groups(keys)
    fractions = cfg.fractions.model_dump()
    ids = [r["id"] for r in rows]
    if cfg.method == "hash":
        assigned = hash_split(ids, groups, fractions, cfg.seed)
    else:
        assigned = random_split([""] * len(rows), groups, fractions, cfg.seed, stratify=False)

    leaks = find_leaks(texts, assigned, cfg.near_threshold, near_dup.ngram, near_dup.unit, near_dup.lowercase)
    p = prompt_near_dup
    prompt_threshold = p.threshold if p.enabled and cfg.near_threshold is not None else None
    prompt_leaks = find_leaks(prompts, assigned, prompt_threshold, p.ngram, p.unit, p.lowercase)
    found = {i: (f"leak_{kind}", j, score) for i, (kind, j, score) in leaks.items()}
    for i, (_, j, score) in prompt_leaks.items():
        found.setdefault(i, ("leak_prompt", j, score))
    if found:
        message = f"{len(found)} validation/test conversations duplicate an earlier split's conversation or prompt"
        if cfg.on_leakage == "fail":
            raise StageError(message + "; raise split.near_threshold or set split.on_leakage: drop_from_test")
        log.warning(message)

    out: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    rejects = []
    for i, (row, split) in enumerate(zip(rows, assigned, strict=True)):
        if i in found and cfg.on_leakage == "drop_from_test":
            reason, j, score = found[i]
            detail = f"{split} row duplicates {assigned[j]} row {ids[j]} (similarity {score})"
            rejects.append(
                reject(
                    "split",
                    reason,
                    source=row["source"],
                    location=row.get("location"),
                    row_id=row["id"],
                    detail=detail,
                    raw=row["text"],
                )
            )
            continue
        out[split].append({**row, "split": split})
    schema = table.schema if "split" in table.column_names else table.schema.append(pa.field("split", pa.string()))
    folder = Path(folder)
    tables = {
        folder / f"{s}.parquet": pa.Table.from_pylist(sorted(out[s], key=lambda r: r["id"]), schema=schema)
        for s in SPLITS
    }
    tables[folder / "unlabeled.parquet"] = schema.empty_table()  # the classification layout; SFT has no pool
    tables[folder / "rejects.parquet"] = rejects_table(rejects, sort_key=lambda r: (r["reason"], r["id"]))
    write_parquets(tables)

    kinds = Counter(reason for reason, _, _ in found.values())
    total = sum(len(v) for v in out.values())
    return {
        "rows_in": len(rows),
        "rows_out": total,
        "dropped": {r: kinds.get(r, 0) if cfg.on_leakage == "drop_from_test" else 0 for r in REASONS},
        "method": cfg.method,
        "groups": int(groups.max()) + 1,
        "splits": {s: {"rows": len(out[s]), "share": round(len(out[s]) / total, 6) if total else 0.0} for s in SPLITS},
        "leakage": {
            "exact": kinds["leak_exact"],
            "near": kinds["leak_near"],
            "prompt": kinds["leak_prompt"],
            "action": cfg.on_leakage,
            "remaining": 0 if cfg.on_leakage == "drop_from_test" else len(found),
        },
    }
