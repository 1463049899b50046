"""clean for conversations (task: sft): every turn normalised, filtered by its role's rules and PII-masked;
then exact and near duplicates of whole conversations removed, and near-duplicate prompts with different
answers reported (and dropped when `on_prompt_conflict: drop`).

Uses the classification clean's pieces (the one text path's normalisation and PII masking, the filters, the
duplicate decisions), so a rule means the same in both pipelines. Rows keep their columns; `messages` and
`text` are the cleaned ones, `dup_cluster`/`dup_count` and `prompt_cluster` are added.
`rows_in == rows_out + sum(dropped)`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from schemas.chat import ChatCleanParams
from stages.lib.chat.conversation import conversation_text, last_answer, prompt_turns
from stages.lib.chat.dedup import clusters
from stages.lib.clean import filters
from stages.lib.clean.clusters import KEEP, STATUS_REASON, decide
from stages.lib.core.errors import StageError
from stages.lib.core.io import read_rows, write_parquets
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.text import normalize, pii
from stages.lib.text.prepare import TextPrep, build_text_prep

REASONS = (*filters.REASONS, "exact_dup", "near_dup", "prompt_conflict")


def clean_turns(
    messages: Sequence[Mapping[str, str]],
    prep: TextPrep,
    rules: Mapping[str, Sequence[filters.Rule]],
    counters: dict[str, Counter[str]],
) -> tuple[list[dict[str, str]], tuple[str, str] | None]:
    """The turns normalised, filtered by their role's rules and masked (the one text path of
    stages/lib/text/prepare.py, filters between its two steps as in clean), or the first failing filter as
    (reason, detail naming the turn). `counters` gains `changed` (normalise steps) and `pii` per turn."""
    out = []
    for i, m in enumerate(messages):
        text, changed = prep.normalize(m["content"])
        counters["changed"].update(changed)
        verdict = filters.first_failure(text, rules.get(m["role"], ()))
        if verdict is not None:
            return out, (verdict[0], f"{m['role']} turn {i}: {verdict[1]}")
        text, found = prep.mask(text)
        counters["pii"].update({k: v for k, v in found.items() if v})
        out.append({"role": m["role"], "content": text})
    return out, None


def run(cfg: ChatCleanParams, rows_path: str | Path, out_rows: str, out_rejects: str, out_conflicts: str) -> dict:
    """Clean the conversation rows at `rows_path`; write rows, rejects and conflicts atomically; return metrics.

    Raises StageError before writing anything when the input is missing or holds no `messages` column.
    """
    if not Path(rows_path).is_file():
        raise StageError(f"input rows {rows_path} not found; run the ingest stage first (dvc repro ingest)")
    table = read_rows(rows_path)
    if "messages" not in table.column_names:
        raise StageError(f"{rows_path} has no `messages` column; is it the SFT ingest's output (task: sft)?")
    rows = table.to_pylist()
    prep = build_text_prep(cfg.normalize.model_dump(), cfg.pii.model_dump())
    rules = {role: filters.build_filters(**f.model_dump()) for role, f in cfg.filters.items()}
    counters: dict[str, Counter[str]] = {"changed": Counter(), "pii": Counter()}
    dropped: Counter[str] = Counter()
    rejects: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []

    def drop(row: dict[str, Any], reason: str, detail: str) -> None:
        dropped[reason] += 1
        raw = json.dumps(row["messages"], ensure_ascii=False)
        rejects.append(
            reject(
                "clean",
                reason,
                source=row["source"],
                location=row.get("location"),
                row_id=row["id"],
                detail=detail,
                raw=raw,
            )
        )

    for row in rows:
        messages, verdict = clean_turns(row["messages"], prep, rules, counters)
        if verdict is not None:
            drop(row, *verdict)
            continue
        kept.append(row | {"messages": messages, "text": conversation_text(messages)})

    survivors, dup_stats = remove_duplicates(kept, drop, exact=cfg.exact_dup.enabled, near=cfg.near_dup.model_dump())
    out, conflicts, conflict_stats = prompt_conflicts(
        survivors, drop, near=cfg.prompt_near_dup.model_dump(), on_prompt_conflict=cfg.on_prompt_conflict
    )

    schema = table.schema
    for name, kind in (("dup_cluster", pa.string()), ("dup_count", pa.int64()), ("prompt_cluster", pa.string())):
        if name not in schema.names:
            schema = schema.append(pa.field(name, kind))
    conflict_schema = pa.schema([(k, pa.string()) for k in ("prompt_cluster", "id", "source", "prompt", "answer")])
    write_parquets(
        {
            out_rows: pa.Table.from_pylist(sorted(out, key=lambda r: r["id"]), schema=schema),
            out_rejects: rejects_table(rejects, sort_key=lambda r: (r["id"] or "", r["reason"])),
            out_conflicts: pa.Table.from_pylist(
                sorted(conflicts, key=lambda r: (r["prompt_cluster"], r["id"])), schema=conflict_schema
            ),
        }
    )
    return {
        "rows_in": len(rows),
        "rows_out": len(out),
        "dropped": {reason: dropped.get(reason, 0) for reason in REASONS},
        "changed": {step: counters["changed"].get(step, 0) for step in normalize.STEP_NAMES},
        "pii": {kind: counters["pii"].get(kind, 0) for kind in pii.KINDS},
        "duplicates": dup_stats,
        "prompt_conflicts": conflict_stats | {"action": cfg.on_prompt_conflict},
    }


Drop = Callable[[dict[str, Any], str, str], None]


def remove_duplicates(
    rows: list[dict[str, Any]], drop: Drop, *, exact: bool, near: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The rows that survive exact and near-duplicate removal on the conversation text (the first of each
    cluster, by id), each with `dup_cluster` (the survivor's id) and `dup_count`; `drop` gets the others."""
    exact_group, cluster, stats = clusters([r["text"] for r in rows], exact=exact, **near)
    n = len(rows)
    decisions = decide(cluster, exact_group, np.zeros(n, np.int64), np.full(n, -1, np.int64), [], "first", "keep")
    survivors = []
    for i, row in enumerate(rows):
        status = int(decisions.status[i])
        if status != KEEP:
            detail = {
                "survivor": rows[int(decisions.survivor[i])]["id"],
                "cluster_size": int(decisions.cluster_size[i]),
            }
            drop(row, STATUS_REASON[status], json.dumps(detail))
            continue
        survivors.append(
            row | {"dup_cluster": rows[int(decisions.primary[i])]["id"], "dup_count": int(decisions.cluster_size[i])}
        )
    stats["clusters"] = int(np.count_nonzero(np.bincount(cluster) > 1)) if n else 0
    return survivors, stats


def prompt_conflicts(
    rows: list[dict[str, Any]], drop: Drop, *, near: dict[str, Any], on_prompt_conflict: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """(kept rows, conflict records, counts): rows whose prompts are exact or near duplicates (`near`, the
    fields of NearDupParams) form a prompt cluster (`prompt_cluster`: its first id); a cluster of two or more
    surviving rows has different answers, a conflict, reported and, with `on_prompt_conflict: drop`, dropped."""
    prompts = [conversation_text(prompt_turns(r["messages"])) for r in rows]
    _, cluster, stats = clusters(prompts, exact=True, **near)
    first_of: dict[int, int] = {}
    for i, c in enumerate(cluster.tolist()):
        first_of.setdefault(c, i)
    sizes = Counter(cluster.tolist())
    conflicts, out = [], []
    for i, row in enumerate(rows):
        c = int(cluster[i])
        row = row | {"prompt_cluster": rows[first_of[c]]["id"]}
        if sizes[c] > 1:
            answer = last_answer(row["messages"])
            conflicts.append(
                {
                    "prompt_cluster": row["prompt_cluster"],
                    "id": row["id"],
                    "source": row["source"],
                    "prompt": prompts[i],
                    "answer": answer,
                }
            )
            if on_prompt_conflict == "drop":
                drop(row, "prompt_conflict", json.dumps({"prompt_cluster": row["prompt_cluster"], "size": sizes[c]}))
                continue
        out.append(row)
    counts = {
        "clusters": sum(1 for k in sizes.values() if k > 1),
        "rows": len(conflicts),
        "candidate_pairs": stats["candidate_pairs"],
    }
    return out, conflicts, counts
