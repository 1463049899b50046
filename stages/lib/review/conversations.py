"""Which conversations go to annotators in the SFT pipeline, and the model's draft answers for unanswered prompts.

Queue `issues`: the audit's issues file (one row per conversation and kind, by the audit's contract: id, split,
source, kind, score, detail), the `per_kind` highest scores of each kind, each conversation sent once (under
the first kind listed). The task shows the prompt turns and the conversation's last answer to rate and edit.

Queue `active`: prompts nobody has answered (the split folder's unlabeled.parquet and the pool folder), each
with the trained model's greedy answer; the answers the model is least sure of (lowest mean token probability,
answers that never stopped first) go first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from stages.lib.chat.conversation import last_answer, prompt_turns
from stages.lib.core.errors import StageError
from stages.lib.core.ids import row_id
from stages.lib.review.exports import prompt_display

SPLITS = ("train", "validation", "test")
ISSUE_COLUMNS = ("id", "split", "source", "kind", "score", "detail")
POOL_SUFFIXES = (".txt", ".jsonl", ".parquet")


def read_issues(path: str | Path) -> list[dict[str, Any]]:
    """The audit's issues; StageError naming the missing columns when the file is not to the contract."""
    table = pq.read_table(path)
    missing = [c for c in ISSUE_COLUMNS if c not in table.column_names]
    if missing:
        raise StageError(f"{path} lacks column(s) {missing}: it is not an audit issues file; run dvc repro audit")
    return table.select(list(ISSUE_COLUMNS)).to_pylist()


def conversations(folder: str | Path, ids: set[str]) -> dict[str, list[dict[str, str]]]:
    """The messages of the rows with these ids, from the split folder's train, validation and test files."""
    out = {}
    for name in SPLITS:
        path = Path(folder) / f"{name}.parquet"
        if path.is_file():
            for row in pq.read_table(path, columns=["id", "messages"]).to_pylist():
                if row["id"] in ids:
                    out[row["id"]] = row["messages"]
    return out


def issue_tasks(
    issues: Sequence[dict[str, Any]], messages: dict[str, list[dict[str, str]]], kinds: Sequence[str], per_kind: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(tasks, per-kind counts): each kind's `per_kind` highest scores, a conversation once; issues whose id is
    in no split file are counted as `not_found`."""
    seen: set[str] = set()
    tasks: list[dict[str, Any]] = []
    counts = {kind: 0 for kind in kinds} | {"not_found": 0}
    for kind in kinds:
        for issue in sorted((i for i in issues if i["kind"] == kind), key=lambda i: (-i["score"], i["id"])):
            if counts[kind] >= per_kind:
                break
            if issue["id"] in seen:
                continue
            if issue["id"] not in messages:
                counts["not_found"] += 1
                continue
            seen.add(issue["id"])
            counts[kind] += 1
            turns = messages[issue["id"]]
            tasks.append(
                {
                    "id": issue["id"],
                    "prompt": prompt_display(prompt_turns(turns)),
                    "answer": last_answer(turns),
                    "score": round(float(issue["score"]), 6),
                    "reason": f"{kind}: {issue['detail']}",
                }
            )
    return tasks, counts


def read_pool(unlabeled: str | Path, folder: str | Path) -> list[tuple[str, list[dict[str, str]]]]:
    """(id, prompt turns) of every unanswered prompt, sorted by id; a prompt seen twice is kept once.

    `unlabeled` (a split-layout file with `id` and `messages`) may be absent or empty; the folder holds `.txt`
    files (one prompt per line) and `.jsonl`/`.parquet` rows with `messages` or a `prompt` string (and an
    optional `id`; otherwise the id is a hash of the file name and the prompt).
    """
    records: list[tuple[str, dict[str, Any]]] = []
    if Path(unlabeled).is_file():
        records += [("unlabeled", r) for r in pq.read_table(unlabeled).to_pylist()]
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in POOL_SUFFIXES) if root.is_dir() else []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".txt":
            lines = path.read_text(encoding="utf-8").splitlines()
            records += [(rel, {"prompt": line.strip()}) for line in lines if line.strip()]
        elif path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            records += [(rel, _json_record(line, f"{rel}:{n}")) for n, line in enumerate(lines, 1) if line.strip()]
        else:
            records += [(rel, r) for r in pq.read_table(path).to_pylist()]
    pool: dict[str, list[dict[str, str]]] = {}
    for rel, record in records:
        turns = _prompt(record, rel)
        key = record.get("id") or row_id(f"pool:{rel}", json.dumps(turns, sort_keys=True, ensure_ascii=False))
        pool.setdefault(str(key), turns)
    return sorted(pool.items())


def _json_record(line: str, where: str) -> dict[str, Any]:
    """One JSON object of a pool `.jsonl` file; StageError naming the file and line when it is not one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise StageError(f"review pool {where}: not JSON ({exc.msg}); one JSON object per line") from None
    if not isinstance(record, dict):
        raise StageError(f"review pool {where}: a JSON {type(record).__name__}, not an object with a prompt")
    return record


def _prompt(record: dict[str, Any], where: str) -> list[dict[str, str]]:
    if isinstance(record.get("messages"), list) and record["messages"]:
        turns = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        if any(t["role"] == "assistant" for t in turns):
            turns = prompt_turns(turns)
        if turns and turns[-1]["role"] == "user":
            return turns
    elif isinstance(record.get("prompt"), str) and record["prompt"].strip():
        return [{"role": "user", "content": record["prompt"]}]
    raise StageError(
        f"review pool {where}: a record with no prompt ({json.dumps(record, default=str)[:120]}); each needs "
        "`messages` ending in a user turn or a `prompt` string"
    )


def answer_confidence(model: Any, tokenizer: Any, prompt: str, answer: str) -> float | None:
    """The geometric mean probability of the answer's tokens after the rendered prompt (None for no tokens)."""
    import torch

    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if not a_ids:
        return None
    device = next(model.parameters()).device
    ids = torch.tensor([p_ids + a_ids], device=device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(p_ids) - 1 : -1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(a_ids, device=device)[:, None])
    return math.exp(float(logp.mean()))


def active_tasks(
    pool: Sequence[tuple[str, list[dict[str, str]]]], drafts: Sequence[dict[str, Any]], budget: int
) -> list[dict[str, Any]]:
    """The `budget` drafts the model is least sure of: empty or unstopped answers first, then by confidence.

    `drafts[n]` answers `pool[n]`: generation, stopped, confidence (None for an empty answer).
    """

    def order(n: int) -> tuple[bool, float, str]:
        d = drafts[n]
        return (d["confidence"] is not None and d["stopped"], d["confidence"] or 0.0, pool[n][0])

    picked = sorted(range(len(pool)), key=order)[:budget]
    return [
        {
            "id": pool[n][0],
            "prompt": prompt_display(pool[n][1]),
            "answer": drafts[n]["generation"],
            "score": None if drafts[n]["confidence"] is None else round(drafts[n]["confidence"], 6),
            "reason": "draft: "
            + ("stopped" if drafts[n]["stopped"] else "did not stop")
            + ("" if drafts[n]["confidence"] is None else f", confidence {drafts[n]['confidence']:.4f}"),
        }
        for n in picked
    ]


def draft_answers(approach: str, pool: Sequence[tuple[str, list[dict[str, str]]]], params: Any) -> list[dict[str, Any]]:
    """Greedy answers of the trained `approach` to the pool's prompts (what predict does, and with its checks:
    the model folder's template, template drift refused), each with its confidence."""
    import torch

    from stages.lib.model.causal.base import load_tokenizer, stop_token_ids
    from stages.lib.model.causal.evaluation import generate
    from stages.lib.model.causal.predict import check_drift
    from stages.lib.model.causal.stage import load_for_eval
    from stages.lib.render.files import make_renderer

    torch.set_num_threads(params.model.num_threads)
    folder = Path(params.paths.train.models_dir) / approach
    model, _ = load_for_eval(approach, params)
    tok_dir = folder if (folder / "tokenizer_config.json").is_file() else folder / "adapter"
    tok = load_tokenizer(tok_dir, params.model.trust_remote_code)
    renderer = make_renderer(check_drift(folder, params.render.template, tok)["source"], tok)
    rendered = [renderer.render(turns, True) for _, turns in pool]
    with torch.no_grad():
        drafts = generate(model, tok, rendered, max_new_tokens=params.eval.max_new_tokens,
                          batch_size=params.eval.batch_size, stop_ids=stop_token_ids(tok, model))  # fmt: skip
    for prompt, d in zip(rendered, drafts, strict=True):
        d["confidence"] = answer_confidence(model, tok, prompt, d["generation"])
    return drafts
