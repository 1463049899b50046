"""Conversation rows: the turn type, the one text form of a conversation, and the role checks.

A conversation is a list of turns `{"role": ..., "content": ...}` with roles system, user, assistant, tool.
`conversation_text` is the single string that dedup, near-dup, filters, leakage and decontamination read;
it is defined here only. `check_turns` returns the turns (merged when asked) or the reason they are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

ROLES = ("system", "user", "assistant", "tool")
MESSAGES_TYPE = pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())]))
MERGE_JOIN = "\n\n"

# Every reason a conversation can be refused by its shape; the stage writes all of them (zeros too).
REASONS = (
    "no_assistant_turn",
    "empty_assistant_turn",
    "roles_out_of_order",
    "unknown_role",
    "content_not_string",
    "too_many_turns",
    "too_long",
)

Turn = dict[str, str]


class BadConversation(ValueError):
    """A record that is not a usable conversation: `reason` is a stable reject reason, the message its detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def conversation_text(messages: Sequence[Turn]) -> str:
    """The conversation as one deterministic string: `<|role|>` then the content, turns joined by newlines.

    The markers keep two conversations that only move a sentence from one turn to the next different.
    """
    return "\n".join(f"<|{m['role']}|>\n{m['content']}" for m in messages)


def prompt_turns(messages: Sequence[Turn]) -> list[Turn]:
    """Every turn before the last assistant turn: what the answer responds to."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))
    return list(messages[:last])


def last_answer(messages: Sequence[Turn]) -> str:
    """The content of the last assistant turn ('' when there is none)."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), "")


def role_contents(messages: Sequence[Turn], roles: Sequence[str]) -> str:
    """The contents of the turns with one of `roles`, joined by newlines (what decontamination compares)."""
    return "\n".join(m["content"] for m in messages if m["role"] in roles)


def content_text(content: Any, parts: str) -> str:
    """A turn's content as a string; a list of parts is joined when `parts == 'join_text'` and all are text.

    Raises BadConversation(`content_not_string`) for anything else (numbers, None, images, tool-call objects).
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list) and parts == "join_text":
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise BadConversation("content_not_string", f"a content part of type {kind!r} is not text")
            texts.append(part["text"])
        return "".join(texts)
    hint = " (ingest.content_parts: join_text joins text parts)" if isinstance(content, list) else ""
    raise BadConversation("content_not_string", f"content is {type(content).__name__}, not a string{hint}")


def check_turns(
    turns: Sequence[Turn], *, merge_consecutive: bool, max_turns: int | None, max_chars: int | None, plain: bool = False
) -> list[Turn]:
    """The turns, checked and (with `merge_consecutive`) with same-role neighbours merged.

    Order: at most one system turn, first; then user and assistant alternate, starting with user; tool turns
    follow an assistant turn (or another tool turn) and are answered by an assistant turn; the last turn is
    the assistant's. `plain` (language-model text) is one assistant turn and skips the order rules.
    Raises BadConversation with the first reason found.
    """
    for i, turn in enumerate(turns):
        if turn["role"] not in ROLES:
            raise BadConversation("unknown_role", f"turn {i}: role {turn['role']!r}")
    if not any(t["role"] == "assistant" for t in turns):
        raise BadConversation("no_assistant_turn", f"roles {[t['role'] for t in turns]}")
    turns = _merged(turns) if merge_consecutive else [dict(t) for t in turns]
    for i, turn in enumerate(turns):
        if turn["role"] == "assistant" and not turn["content"].strip():
            raise BadConversation("empty_assistant_turn", f"turn {i} is empty")
    if not plain:
        problem = order_problem([t["role"] for t in turns])
        if problem:
            raise BadConversation("roles_out_of_order", problem)
    if max_turns is not None and len(turns) > max_turns:
        raise BadConversation("too_many_turns", f"{len(turns)} turns > ingest.max_turns={max_turns}")
    chars = sum(len(t["content"]) for t in turns)
    if max_chars is not None and chars > max_chars:
        raise BadConversation("too_long", f"{chars} characters > ingest.max_chars={max_chars}")
    return turns


def _merged(turns: Sequence[Turn]) -> list[Turn]:
    out: list[Turn] = []
    for turn in turns:
        if out and out[-1]["role"] == turn["role"] and turn["role"] in ("user", "assistant"):
            out[-1] = {"role": turn["role"], "content": out[-1]["content"] + MERGE_JOIN + turn["content"]}
        else:
            out.append(dict(turn))
    return out


_NEXT = {
    "start": ("system", "user"),
    "system": ("user",),
    "user": ("assistant",),
    "assistant": ("user", "tool"),
    "tool": ("tool", "assistant"),
}


def order_problem(roles: Sequence[str]) -> str | None:
    """Why this role sequence is out of order, or None when it is fine (rules in `check_turns`)."""
    previous = "start"
    for i, role in enumerate(roles):
        if role not in _NEXT[previous]:
            if role == previous:
                return f"turns {i - 1} and {i} are both {role} (ingest.merge_consecutive: true merges them)"
            return f"turn {i} is {role} after {previous if previous != 'start' else 'the start'}"
        previous = role
    if previous != "assistant":
        return f"the last turn is {previous}, not assistant"
    return None
