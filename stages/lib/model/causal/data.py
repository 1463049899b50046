"""Render's rows as training batches: padded rows, or packed rows with a block-diagonal attention mask.

Render's `labels` (-100 on every token that is not trained) are the only loss mask. The one thing added here
is at packed boundaries: the first token of each packed example gets label -100, so that the model's shifted
loss never asks the last token of one example to predict the first token of the next. Unpacked, nothing
predicts an example's first token either, so each example's loss is the same packed or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch

IGNORE = -100
PADDED_COLUMNS = ("input_ids", "labels")
PACKED_COLUMNS = ("input_ids", "labels", "position_ids", "seq_lens")


def read_rendered(path: str | Path, packed: bool) -> list[dict[str, Any]]:
    """Rows of a render output file as dicts of int lists (the Trainer's dataset).

    Raises ValueError naming the missing columns (a packed file read as padded or the reverse).
    """
    want = PACKED_COLUMNS if packed else PADDED_COLUMNS
    names = pq.read_schema(path).names
    missing = [c for c in want if c not in names]
    if missing:
        kind = "packed" if packed else "unpacked"
        raise ValueError(f"{path} lacks the {kind} columns {missing}; is it render's {kind} output?")
    if "weights" in names:
        raise ValueError(
            f"{path} has per-token loss weights (render.prompt_loss_weight > 0), which the causal-LM trainer does "
            "not apply; set render.prompt_loss_weight: 0 (render's labels then mask the prompt)"
        )
    table = pq.read_table(path, columns=list(want))
    return table.to_pylist()


def read_prompts(path: str | Path, limit: int | None) -> tuple[list[str], list[str], list[str]]:
    """(ids, prompts, reference answers) of a rendered split, sorted by id, the first `limit` of them (all: None)."""
    table = pq.read_table(path, columns=["id", "prompt", "answer"]).sort_by("id")
    if limit is not None:
        table = table.slice(0, limit)
    return table.column("id").to_pylist(), table.column("prompt").to_pylist(), table.column("answer").to_pylist()


def pad_batch(rows: list[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, labels (-100 on padding) and a 2D attention mask."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
        labels[i, :n] = torch.tensor(r["labels"], dtype=torch.long)
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def block_diagonal_mask(seq_lens: list[list[int]], width: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(batch, 1, width, width) mask of where a token may attend: causally, inside its own example.

    With a float dtype it is additive (0 where allowed, the dtype's minimum elsewhere), which both the sdpa and
    the eager attention of transformers take as given; with torch.bool it is True where allowed, which sdpa
    takes whatever the precision of the queries (bf16 included). Padding after the last example forms one more
    block, so no row of the mask is empty (an all-masked row gives NaN in SDPA). position_ids alone would isolate
    examples only in FlashAttention's varlen kernels.
    """
    batch = torch.zeros((len(seq_lens), width), dtype=torch.long)
    for i, lens in enumerate(seq_lens):
        if sum(lens) > width:
            raise ValueError(f"packed row {i}: seq_lens sum to {sum(lens)} > {width} tokens")
        bounds = torch.tensor([*lens, width - sum(lens)], dtype=torch.long)
        batch[i] = torch.repeat_interleave(torch.arange(len(bounds)), bounds)
    same = batch[:, :, None] == batch[:, None, :]
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    allowed = same & causal
    if dtype == torch.bool:
        return allowed[:, None]
    mask = torch.zeros(allowed.shape, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def pack_batch(
    rows: list[dict[str, Any]], pad_token_id: int, mask_dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Packed rows padded to the longest: input_ids, labels (-100 at each example's first token and on padding),
    position_ids restarting per example (render's) and the block-diagonal 4D attention mask of `mask_dtype`."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        if sum(r["seq_lens"]) != n:
            raise ValueError(f"packed row {i}: seq_lens sum to {sum(r['seq_lens'])}, input_ids hold {n} tokens")
        ids[i, :n] = torch.tensor(r["input_ids"], dtype=torch.long)
        row_labels = torch.tensor(r["labels"], dtype=torch.long)
        starts = torch.tensor([0, *r["seq_lens"][:-1]], dtype=torch.long).cumsum(0)
        row_labels[starts] = IGNORE
        labels[i, :n] = row_labels
        positions[i, :n] = torch.tensor(r["position_ids"], dtype=torch.long)
        positions[i, n:] = torch.arange(width - n)
    mask = block_diagonal_mask([r["seq_lens"] for r in rows], width, mask_dtype)
    return {"input_ids": ids, "labels": labels, "position_ids": positions, "attention_mask": mask}


class Collator:
    """The Trainer's data collator for render's rows: packed rows (with `seq_lens`) get the block-diagonal mask,
    plain rows are padded; so packed train rows can be validated on the plain validation rows."""

    def __init__(self, pad_token_id: int, attn_implementation: str = "sdpa"):
        self.pad_token_id = pad_token_id
        # sdpa: a boolean mask, valid whatever the dtype of the queries; eager adds the mask to its scores
        self.mask_dtype = torch.bool if attn_implementation == "sdpa" else torch.float32

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if "seq_lens" in rows[0]:
            return pack_batch(rows, self.pad_token_id, self.mask_dtype)
        return pad_batch(rows, self.pad_token_id)


def trained_tokens(rows: list[dict[str, Any]]) -> int:
    """Tokens whose label is trained (not -100) over the rows, as render counts them."""
    return sum(sum(1 for label in r["labels"] if label != IGNORE) for r in rows)
