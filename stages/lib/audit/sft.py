"""audit for the SFT pipeline (`task: sft`): read the conversations, render's rows and the trained model, call the
findings of stages/lib/audit/conversations.py, write the issues.

The audited rows are the decontaminated train and validation conversations (never test). Per-row losses come
from render's unpacked rows under the trained model of `audit.approach`; truncation is read from render's
output (rows at `render.max_length` are rendered again without the limit, with render's own code, to count
what was cut) and its rejects (rows dropped for length). Nothing is dropped: the issues go to one Parquet file,
one row per (conversation, kind), sorted by kind, score descending, id.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.sft_audit import SftAuditParams
from stages.lib.audit.conversations import (
    KINDS,
    conflicting_answers,
    empty_and_boilerplate,
    loss_outliers,
    truncations,
    wilson,
)
from stages.lib.chat.conversation import conversation_text, last_answer, prompt_turns
from stages.lib.core.errors import StageError
from stages.lib.core.io import write_parquet
from stages.lib.core.log import get_logger

log = get_logger("audit")

ISSUE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("split", pa.string()),
        pa.field("source", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)
LENGTH_REASONS = ("too_long", "answer_truncated")  # render's rejects for length (stages/lib/render/tokens.py)
RENDER_SETTINGS = ("mask_policy", "train_on_eos", "prompt_loss_weight", "max_length", "truncation")
# What `dvc metrics show` lists; the interval and the counts by kind, split and source are in the details file.
HEADLINE = ("problem_share",)


def read_conversations(split_dir: str | Path, splits: list[str]) -> list[dict[str, Any]]:
    """id, source, messages and split of every row of the audited splits, in split then file order."""
    rows = []
    for split in splits:
        path = Path(split_dir) / f"{split}.parquet"
        if not path.is_file():
            raise StageError(f"{path} not found; run decontaminate first (paths.render.split)")
        for r in pq.read_table(path, columns=["id", "source", "messages"]).to_pylist():
            rows.append(r | {"split": split})
    return rows


def answer_turns(messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Each assistant turn as (the conversation before it, its content)."""
    return [(conversation_text(messages[:i]), m["content"]) for i, m in enumerate(messages) if m["role"] == "assistant"]


def row_mean_losses(
    rendered_dir: Path, splits: list[str], model: Any, pad_token_id: int, batch_size: int
) -> dict[str, float]:
    """Mean next-token loss over each rendered row's trained tokens, by id."""
    from stages.lib.model.causal.data import read_rendered
    from stages.lib.model.causal.evaluation import row_losses

    out = {}
    for split in splits:
        path = rendered_dir / f"{split}.parquet"
        if not path.is_file():
            raise StageError(f"{path} not found; run render first (paths.render.rendered)")
        ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
        try:
            rows = read_rendered(path, packed=False)
        except ValueError as exc:
            raise StageError(str(exc)) from None
        for id_, (total, count) in zip(ids, row_losses(model, rows, pad_token_id, batch_size), strict=True):
            if count:
                out[id_] = total / count
    return out


def load_scorer(models_dir: str | Path, approach: str, kind: str, base_dir: str | Path, trust_remote_code: bool):
    """(model, pad token id) of the trained approach; StageError naming the stage to run when it is missing."""
    from stages.lib.model.causal import KINDS as CAUSAL
    from stages.lib.model.causal.base import load_tokenizer

    folder = Path(models_dir) / approach
    if not folder.is_dir():
        raise StageError(f"{folder} not found; run train@{approach} first (audit.approach)")
    model = CAUSAL[kind].load(folder, Path(base_dir), trust_remote_code)
    return model, load_tokenizer(base_dir, trust_remote_code).pad_token_id


def length_rows(
    conversations: list[dict[str, Any]], rendered_dir: Path, splits: list[str], tokenizer_dir: str | Path, render: dict
) -> list[dict[str, Any]]:
    """The inputs of `truncations`: rows render dropped for length, and rows rendered at exactly max_length (the
    only ones that can have been cut) with their lengths rendered again without a limit."""
    by_id = {r["id"]: r for r in conversations}
    out = []
    rejects = rendered_dir / "rejects.parquet"
    if rejects.is_file():
        for r in pq.read_table(rejects, columns=["id", "reason", "detail"]).to_pylist():
            if r["reason"] in LENGTH_REASONS and r["id"] in by_id:
                out.append({"id": r["id"], "dropped": r["detail"]})
    full = []
    for split in splits:
        table = pq.read_table(rendered_dir / f"{split}.parquet", columns=["id", "length", "n_trained"])
        full += [r for r in table.to_pylist() if r["length"] >= render["max_length"] and r["id"] in by_id]
    if full:
        from stages.lib.render.files import load_tokenizer, make_renderer
        from stages.lib.render.tokens import Tally, encode_rows, special_pattern

        tok = load_tokenizer(tokenizer_dir)
        settings = {k: render[k] for k in RENDER_SETTINGS} | {"max_length": sys.maxsize}
        again, _ = encode_rows([by_id[r["id"]] for r in full], make_renderer(render["template"], tok), tok, Tally(),
                               special_pattern(tok), **settings)  # fmt: skip
        lengths = {r["id"]: r for r in again}
        for r in full:
            if r["id"] in lengths:
                out.append(
                    r | {"full_length": lengths[r["id"]]["length"], "full_trained": lengths[r["id"]]["n_trained"]}
                )
    return out


def run(
    cfg: SftAuditParams,
    *,
    issues_path: str | Path,
    split_dir: str | Path,
    rendered_dir: str | Path,
    tokenizer_dir: str | Path,
    models_dir: str | Path,
    base_dir: str | Path,
    kind: str,
    render: dict[str, Any],
    near: dict[str, Any],
    trust_remote_code: bool,
    num_threads: int,
) -> dict[str, Any]:
    """Audit the conversations, write the issues file, return the metrics.

    `cfg` is the `audit` section, `kind` the kind of `approaches.<cfg.approach>`, `render` the
    dump of the render section, `near` of clean.prompt_near_dup.
    """
    import torch

    torch.set_num_threads(num_threads)
    rendered_dir = Path(rendered_dir)
    rows = read_conversations(split_dir, cfg.splits)
    ids = [r["id"] for r in rows]
    model, pad = load_scorer(models_dir, cfg.approach, kind, base_dir, trust_remote_code)
    losses = row_mean_losses(rendered_dir, cfg.splits, model, pad, cfg.loss_outlier.batch_size)
    scored = [r for r in rows if r["id"] in losses]
    found, groups = loss_outliers(
        [r["id"] for r in scored],
        [f"{r['source']}/{r['split']}" for r in scored],
        [losses[r["id"]] for r in scored],
        **cfg.loss_outlier.model_dump(exclude={"batch_size"}),
    )
    prompts = [conversation_text(prompt_turns(r["messages"])) for r in rows]
    found += conflicting_answers(ids, prompts, [last_answer(r["messages"]) for r in rows], near=near,
                                 **cfg.conflicting_answer.model_dump())  # fmt: skip
    found += truncations(length_rows(rows, rendered_dir, cfg.splits, tokenizer_dir, render),
                         **cfg.truncated.model_dump())  # fmt: skip
    found += empty_and_boilerplate(ids, [answer_turns(r["messages"]) for r in rows], **cfg.boilerplate.model_dump())
    meta = {r["id"]: r for r in rows}
    table = sorted(
        ({"id": f["id"], "split": meta[f["id"]]["split"], "source": meta[f["id"]]["source"]} | f for f in found),
        key=lambda f: (f["kind"], -f["score"], f["id"]),
    )
    write_parquet(pa.Table.from_pylist(table, schema=ISSUE_SCHEMA), issues_path)
    metrics = summarise(rows, table, cfg.confidence)
    metrics["loss"] = {
        "approach": cfg.approach,
        "rows_scored": len(scored),
        "rows_not_rendered": len(rows) - len(scored),
        "groups": groups,
    }
    log.info("audited %d conversations: %d with an issue (%s)", len(rows), metrics["problem_rows"],
             ", ".join(f"{k} {v}" for k, v in metrics["issues"].items()))  # fmt: skip
    return metrics


def run_stage(params: Any) -> dict[str, Any]:
    """`run` with the sections of a validated SFT params file (what stages/audit.py calls for `task: sft`)."""
    p = params.paths
    return run(
        params.audit,
        issues_path=p.audit.issues,
        split_dir=p.render.split,
        rendered_dir=p.render.rendered,
        tokenizer_dir=p.render.tokenizer,
        models_dir=p.train.models_dir,
        base_dir=p.base_model.out,
        kind=params.approaches[params.audit.approach].kind,
        render=params.render.model_dump(),
        near=params.clean.prompt_near_dup.model_dump(),
        trust_remote_code=params.model.trust_remote_code,
        num_threads=params.model.num_threads,
    )


def summarise(rows: list[dict[str, Any]], issues: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """problem_share (rows with at least one issue) with its Wilson interval, and the counts by kind, split and
    source (every kind present, zeros too, so `dvc metrics diff` lines up)."""
    flagged = {f["id"] for f in issues}
    low, high = wilson(len(flagged), len(rows), confidence)
    per_source: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"rows": 0, "problem_rows": 0, "issues": dict.fromkeys(KINDS, 0)}
    )
    per_split: dict[str, dict[str, int]] = defaultdict(lambda: {"rows": 0, "problem_rows": 0})
    for r in rows:
        for bucket in (per_source[r["source"]], per_split[r["split"]]):
            bucket["rows"] += 1
            bucket["problem_rows"] += r["id"] in flagged
    for f in issues:
        per_source[f["source"]]["issues"][f["kind"]] += 1
    kinds = Counter(f["kind"] for f in issues)
    n = len(rows)
    return {
        "rows": n,
        "problem_rows": len(flagged),
        "problem_share": round(len(flagged) / n, 6) if n else 0.0,
        "problem_share_interval": {"low": round(low, 6), "high": round(high, 6), "confidence": confidence},
        "issues": {k: kinds.get(k, 0) for k in KINDS},
        "splits": dict(sorted(per_split.items())),
        "sources": dict(sorted(per_source.items())),
    }
