"""Tokenise rendered conversations once, build labels from character spans, audit them, apply the length policy.

- The rendered text is tokenised with `add_special_tokens=False`: the template already wrote BOS (if any), so
  the tokenizer must not add a second one (transformers#31796).
- A token is trained when any of its characters falls in a trained span (content of a chosen assistant turn,
  plus its end-of-turn marker with `train_on_eos`); this is how transformers maps `{% generation %}` spans to
  tokens too, so TRL's `assistant_only_loss` gives the same labels where it can compute them.
- The mask audit decodes each row's trained tokens and compares them with the expected text: a token that
  straddles template text and content, or a tokenizer that normalises text, shows up there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from stages.lib.core.rejects import reject
from stages.lib.render.layout import Renderer, TemplateMismatch, prompt_and_answer

IGNORE = -100
TRUNCATIONS = ("drop", "left", "right")
REASONS = ("template_mismatch", "special_token_in_content", "too_long", "answer_truncated", "no_trained_tokens")


@dataclass
class Tally:
    """What render counts over all batches (the metrics and the audit are computed from it)."""

    rows_in: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    lengths: list[int] = field(default_factory=list)  # tokens per row before truncation
    tokens_out: int = 0
    trained_out: int = 0
    assistant_tokens: int = 0  # trained tokens before truncation
    assistant_tokens_lost: int = 0  # trained tokens cut or dropped by the length policy
    truncated_rows: int = 0
    audit_failed: int = 0
    audit_examples: list[str] = field(default_factory=list)
    turns_without_end: int = 0
    bos_doubled: int = 0

    def merge(self, other: Tally) -> None:
        """Add the counts of `other` (a later batch's), as if its rows had been counted here."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, dict):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, f.name, mine + theirs)
        del self.audit_examples[5:]


def special_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    """A regex of the tokenizer's special tokens: content holding one would be read as that token."""
    specials = sorted(
        {*tokenizer.all_special_tokens, *(t.content for t in tokenizer.added_tokens_decoder.values() if t.special)}
    )
    specials = [s for s in specials if s]
    return re.compile("|".join(re.escape(s) for s in specials)) if specials else None


def encode_rows(
    rows: list[dict[str, Any]],
    renderer: Renderer,
    tokenizer: Any,
    tally: Tally,
    specials: re.Pattern[str] | None,
    *,
    mask_policy: str,
    train_on_eos: bool,
    prompt_loss_weight: float,
    max_length: int,
    truncation: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rendered, tokenised and masked rows (id, source, input_ids, labels, length, n_trained, prompt, answer, and
    `weights` when `prompt_loss_weight` > 0) plus reject records; every count goes to `tally`."""
    kept, located, dropped = [], [], []
    tally.rows_in += len(rows)
    for row in rows:
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        hits = (specials.search(m["content"]) for m in messages) if specials else iter(())
        hit = next((h for h in hits if h), None)
        if hit:
            dropped.append(
                _reject(row, "special_token_in_content", f"content holds the special token {hit.group(0)!r}")
            )
            continue
        if not any(m["role"] == "assistant" for m in messages):  # ingest rejects these; a hand-made split may not
            dropped.append(_reject(row, "no_trained_tokens", "no assistant turn"))
            continue
        try:
            loc = renderer.locate(messages, mask_policy, train_on_eos)
            prompt, answer = prompt_and_answer(renderer, messages)
        except TemplateMismatch as exc:
            tally.audit_failed += 1
            _example(tally, f"{row['id']}: template '{renderer.name}' {exc}")
            dropped.append(_reject(row, "template_mismatch", f"template '{renderer.name}' {exc}"))
            continue
        kept.append((row, loc, prompt, answer))
        located.append(loc.text)
    if not located:
        return [], _count(tally, dropped)
    enc = tokenizer(
        located, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False, verbose=False
    )
    out = []
    for (row, loc, prompt, answer), ids, offsets in zip(kept, enc["input_ids"], enc["offset_mapping"], strict=True):
        result = _one(row, loc, ids, offsets, tokenizer, tally, max_length, truncation, prompt_loss_weight)
        if isinstance(result, tuple):
            dropped.append(_reject(row, *result))
            continue
        result.update(prompt=prompt, answer=answer)
        out.append(result)
    return out, _count(tally, dropped)


def _count(tally: Tally, dropped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for reason in (r["reason"] for r in dropped):
        tally.dropped[reason] += 1
    return dropped


def _one(row, loc, ids, offsets, tokenizer, tally: Tally, max_length, truncation, prompt_loss_weight):
    ids = np.asarray(ids, dtype=np.int64)
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    trained = _covered(loc.spans, off, len(loc.text))
    in_answer = _covered([loc.answer_span], off, len(loc.text))
    decoded = tokenizer.decode(ids[trained].tolist(), skip_special_tokens=False, clean_up_tokenization_spaces=False)
    if decoded != loc.expected:
        tally.audit_failed += 1
        _example(tally, f"{row['id']}: trained tokens decode to {decoded[:60]!r}, expected {loc.expected[:60]!r}")
    tally.turns_without_end += loc.turns_without_end
    bos = tokenizer.bos_token_id
    tally.bos_doubled += int(bos is not None and len(ids) > 1 and ids[0] == bos and ids[1] == bos)
    n = len(ids)
    tally.lengths.append(n)
    n_trained = int(trained.sum())
    tally.assistant_tokens += n_trained
    if n > max_length:
        tally.truncated_rows += 1
        keep = _truncate(ids, in_answer, bos, max_length, truncation)
        if keep is None:
            tally.assistant_tokens_lost += n_trained
            reason = "too_long" if truncation == "drop" else "answer_truncated"
            return reason, f"{n} tokens > max_length {max_length} (truncation: {truncation})"
        ids, trained = ids[keep], trained[keep]
        tally.assistant_tokens_lost += n_trained - int(trained.sum())
        n_trained = int(trained.sum())
    if n_trained == 0:
        return "no_trained_tokens", f"no token is trained under the mask policy ({n} tokens)"
    tally.tokens_out += len(ids)
    tally.trained_out += n_trained
    labels = np.where(trained, ids, IGNORE)
    out = {
        "id": row["id"],
        "source": row.get("source"),
        "input_ids": ids.astype(np.int32).tolist(),
        "labels": labels.astype(np.int32).tolist(),
        "length": len(ids),
        "n_trained": n_trained,
    }
    if prompt_loss_weight > 0:
        out["weights"] = np.where(trained, 1.0, prompt_loss_weight).astype(np.float32).tolist()
    return out


def _covered(spans: list[tuple[int, int]], off: np.ndarray, n_chars: int) -> np.ndarray:
    """Per token: does any of its characters fall in one of `spans`?"""
    marks = np.zeros(n_chars + 1, dtype=np.int64)
    for s, e in spans:
        marks[s] += 1
        marks[e] -= 1
    inside = np.cumsum(marks)[:n_chars] > 0
    csum = np.concatenate([[0], np.cumsum(inside)])
    return (csum[off[:, 1]] - csum[off[:, 0]]) > 0


def _truncate(ids, in_answer, bos, max_length: int, truncation: str) -> np.ndarray | None:
    """Indices of the tokens kept at `max_length`, or None when the policy drops the row.

    `left` cuts the prompt from the left (a leading BOS stays) and keeps the whole last answer; a row whose
    answer alone does not fit is dropped (`answer_truncated`). `right` cuts the end, answers included.
    """
    n = len(ids)
    if truncation == "drop":
        return None
    if truncation == "right":
        keep = np.arange(max_length)
        return keep if in_answer[keep].any() else None
    lead = 1 if bos is not None and n and ids[0] == bos else 0
    first = int(np.argmax(in_answer)) if in_answer.any() else n
    room = max_length - lead
    if n - first > room:
        return None
    return np.concatenate([np.arange(lead), np.arange(n - room, n)])


def _reject(row: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    raw = json.dumps([dict(m) for m in row["messages"]], ensure_ascii=False)
    return reject("render", reason, source=row.get("source"), row_id=row["id"], detail=detail, raw=raw)


def _example(tally: Tally, line: str) -> None:
    if len(tally.audit_examples) < 5:
        tally.audit_examples.append(line)


def summary(tally: Tally, max_length: int) -> dict[str, Any]:
    """The render metrics: rows and rejects, the mask audit, the length report."""
    lengths = np.asarray(tally.lengths or [0])
    q = {f"p{p}": int(np.percentile(lengths, p, method="higher")) for p in (50, 90, 99)}
    n = len(tally.lengths)
    rows_out = tally.rows_in - sum(tally.dropped.values())
    return {
        "rows_in": tally.rows_in,
        "rows_out": rows_out,
        "dropped": dict(tally.dropped),
        "tokens": tally.tokens_out,
        "trained_tokens": tally.trained_out,
        "mask_audit": {
            "failed_rows": tally.audit_failed,
            "failed_share": round(tally.audit_failed / tally.rows_in, 6) if tally.rows_in else 0.0,
            "trained_share": round(tally.trained_out / tally.tokens_out, 6) if tally.tokens_out else 0.0,
            "turns_without_end_of_turn": tally.turns_without_end,
            "bos_doubled_rows": tally.bos_doubled,
        },
        "length": {
            **q,
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 3),
            "over_max_length_share": round(tally.truncated_rows / n, 6) if n else 0.0,
            "assistant_tokens": tally.assistant_tokens,
            "assistant_tokens_lost": tally.assistant_tokens_lost,
        },
    }
