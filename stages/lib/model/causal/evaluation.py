"""Evaluate a causal LM: loss and perplexity on trained tokens, greedy answers scored against the references.

    token_loss(model, rows, ...)            -> loss, perplexity, trained tokens (render's labels only)
    generate(model, tokenizer, prompts, ...) -> per prompt: the answer, its length, whether it stopped
    score_answers(ids, prompts, references, generations) -> (predictions table, summary metrics)
    evaluate_rendered(model, tokenizer, path, ...) -> all of it on one rendered split file

A generation "stopped" when it ended with an end-of-turn or EOS token before `max_new_tokens`; a model that
never stops has not learnt where an answer ends (the end-of-turn token untrained, the classic SFT failure), so
the share that stopped is a headline metric beside the answer scores.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import torch

from stages.lib.model.causal.base import stop_token_ids
from stages.lib.model.causal.data import IGNORE, pad_batch, read_prompts, read_rendered
from stages.lib.model.causal.scoring import score

PREDICTION_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("prompt", pa.string()),
        ("reference", pa.string()),
        ("generation", pa.string()),
        ("exact_match", pa.float64()),
        ("token_f1", pa.float64()),
        ("rouge_l", pa.float64()),
        ("stopped", pa.bool_()),
        ("generated_tokens", pa.int32()),
    ]
)
SCORES = ("exact_match", "token_f1", "rouge_l")


@torch.no_grad()
def row_losses(
    model: Any, rows: Sequence[dict[str, Any]], pad_token_id: int, batch_size: int
) -> list[tuple[float, int]]:
    """(summed next-token loss, trained tokens) of each unpacked row, over the tokens render labels as trained."""
    model.eval()
    out: list[tuple[float, int]] = []
    for start in range(0, len(rows), batch_size):
        batch = pad_batch(list(rows[start : start + batch_size]), pad_token_id)
        device = next(model.parameters()).device
        logits = model(
            input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
        ).logits.float()
        targets = batch["labels"][:, 1:].to(device)
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"
        )
        trained = targets != IGNORE
        for total, count in zip(nll.sum(1).tolist(), trained.sum(1).tolist()):
            out.append((float(total), int(count)))
    return out


def token_loss(model: Any, rows: Sequence[dict[str, Any]], pad_token_id: int, batch_size: int) -> dict[str, Any]:
    """Mean next-token loss over every trained token of the rows (not a mean of row means) and its perplexity."""
    losses = row_losses(model, rows, pad_token_id, batch_size)
    total, count = sum(t for t, _ in losses), sum(c for _, c in losses)
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)) if count else float("nan"), "trained_tokens": count}


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    stop_ids: Sequence[int],
) -> list[dict[str, Any]]:
    """Greedy answers to rendered prompts (the template's text up to the generation prompt).

    Prompts are tokenised with add_special_tokens=False (the rendered text already holds BOS where the template
    puts one) and left-padded. Each result holds `generation` (text, special tokens removed), `generated_tokens`
    (before the stop token) and `stopped`.
    """
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    stops = set(int(i) for i in stop_ids)
    device = next(model.parameters()).device
    results: list[dict[str, Any]] = []
    try:
        for start in range(0, len(prompts), batch_size):
            enc = tokenizer(
                list(prompts[start : start + batch_size]), add_special_tokens=False, padding=True, return_tensors="pt"
            )
            out = model.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=sorted(stops),
                pad_token_id=tokenizer.pad_token_id,
            )
            for row in out[:, enc["input_ids"].shape[1] :].tolist():
                cut = next((i for i, t in enumerate(row) if t in stops), None)
                answer = row if cut is None else row[:cut]
                results.append(
                    {
                        "generation": tokenizer.decode(answer, skip_special_tokens=True).strip(),
                        "generated_tokens": len(answer),
                        "stopped": cut is not None,
                    }
                )
    finally:
        tokenizer.padding_side = side
    return results


def score_answers(
    ids: Sequence[str],
    prompts: Sequence[str],
    references: Sequence[str],
    generations: Sequence[dict[str, Any]],
) -> tuple[pa.Table, dict[str, Any]]:
    """The predictions table (one row per prompt, sorted by id) and the summary: mean scores, the share of
    generations that stopped, mean generated tokens."""
    rows = []
    for id_, prompt, reference, gen in zip(ids, prompts, references, generations, strict=True):
        answer = gen["generation"]
        rows.append(
            {"id": id_, "prompt": prompt, "reference": reference, "generation": answer}
            | score(answer, reference)
            | {"stopped": bool(gen["stopped"]), "generated_tokens": int(gen["generated_tokens"])}
        )
    rows.sort(key=lambda r: r["id"])
    table = pa.Table.from_pylist(rows, schema=PREDICTION_SCHEMA)
    n = len(rows)
    summary: dict[str, Any] = {"prompts": n}
    for key in SCORES:
        summary[key] = sum(r[key] for r in rows) / n if n else float("nan")
    summary["stopped_share"] = sum(r["stopped"] for r in rows) / n if n else float("nan")
    summary["mean_generated_tokens"] = sum(r["generated_tokens"] for r in rows) / n if n else float("nan")
    return table, summary


def evaluate_rendered(
    model: Any, tokenizer: Any, path: str | Path, *, max_new_tokens: int, batch_size: int, limit: int | None
) -> tuple[pa.Table, dict[str, Any], dict[str, float]]:
    """One rendered split file: (predictions table, metrics, timings).

    The metrics hold the loss and perplexity over every row's trained tokens and the answer scores of the first
    `limit` prompts by id; the timings (generation seconds per 100 prompts) vary between runs and belong
    outside the versioned metrics. Keyword arguments are the fields of `CausalEvalParams` but `retrieval`.
    """
    loss = token_loss(model, read_rendered(path, packed=False), tokenizer.pad_token_id, batch_size)
    ids, prompts, answers = read_prompts(path, limit)
    start = time.perf_counter()
    generations = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                           stop_ids=stop_token_ids(tokenizer, model))  # fmt: skip
    seconds = time.perf_counter() - start
    table, summary = score_answers(ids, prompts, answers, generations)
    timings = {"generation_seconds_per_100": round(100 * seconds / len(ids), 3) if ids else 0.0}
    return table, loss | summary, timings
