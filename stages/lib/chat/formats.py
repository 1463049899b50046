"""The conversation formats people have, read into turns and written back.

    read_turns(fields, format, ...) -> list of {role, content}   one record of a source to raw turns
    write_record(messages, format) -> dict                         turns to a record of that format (or Unsupported)

Formats: `messages` (OpenAI / TRL conversational), `prompt_completion` (TRL, standard: strings; conversational:
lists of turns), `alpaca` (instruction, input, output, optional system and history), `sharegpt`
(conversations of {from, value}) and `text` (language-model text: one assistant turn). The readers map
column and role names as the source says (LLaMA-Factory's dataset_info.json idea) and raise BadConversation
with a reject reason; the role order and length checks are `conversation.check_turns`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stages.lib.chat.conversation import BadConversation, Turn, content_text

FORMATS = ("messages", "prompt_completion", "alpaca", "sharegpt", "text")
ALPACA_JOIN = "\n\n"  # instruction and input become one user turn, as alpaca's own prompt separates them


def read_turns(
    fields: Mapping[str, Any],
    fmt: str,
    *,
    columns: Mapping[str, str],
    role_key: str,
    content_key: str,
    roles: Mapping[str, str],
    content_parts: str,
) -> list[Turn]:
    """The turns of one record, roles mapped to system/user/assistant/tool (an unmapped name stays as it is,
    so the role check rejects it as `unknown_role`). Raises BadConversation (`missing_field`,
    `content_not_string`, `not_a_conversation`)."""

    def turns_of(value: Any, field: str) -> list[Turn]:
        return _turn_list(value, field, role_key, content_key, roles, content_parts)

    if fmt == "messages":
        return turns_of(_field(fields, columns["messages"]), columns["messages"])
    if fmt == "sharegpt":
        turns = turns_of(_field(fields, columns["conversations"]), columns["conversations"])
        return _with_system(fields, columns["system"], turns, content_parts)
    if fmt == "prompt_completion":
        prompt, completion = _field(fields, columns["prompt"]), _field(fields, columns["completion"])
        if isinstance(prompt, list):  # conversational
            turns = turns_of(prompt, columns["prompt"])
            answer = turns_of(completion, columns["completion"]) if isinstance(completion, list) else None
            if answer is None:
                answer = [{"role": "assistant", "content": content_text(completion, content_parts)}]
            return turns + answer
        return [
            {"role": "user", "content": content_text(prompt, content_parts)},
            {"role": "assistant", "content": content_text(completion, content_parts)},
        ]
    if fmt == "alpaca":
        instruction = content_text(_field(fields, columns["instruction"]), content_parts)
        extra = fields.get(columns["input"])
        extra = "" if extra is None else content_text(extra, content_parts)
        output = content_text(_field(fields, columns["output"]), content_parts)
        turns = []
        history = fields.get(columns["history"]) or []
        if not isinstance(history, list) or not all(isinstance(p, list) and len(p) == 2 for p in history):
            raise BadConversation("not_a_conversation", f"'{columns['history']}' must be a list of [user, assistant]")
        for user, assistant in history:
            turns.append({"role": "user", "content": content_text(user, content_parts)})
            turns.append({"role": "assistant", "content": content_text(assistant, content_parts)})
        user = instruction + ALPACA_JOIN + extra if extra.strip() else instruction
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        return _with_system(fields, columns["system"], turns, content_parts)
    if fmt == "text":
        return [{"role": "assistant", "content": content_text(_field(fields, columns["text"]), content_parts)}]
    raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")


def _field(fields: Mapping[str, Any], name: str) -> Any:
    if name not in fields:
        raise BadConversation("missing_field", f"no field '{name}'; fields: {', '.join(sorted(fields))}")
    return fields[name]


def _with_system(fields: Mapping[str, Any], name: str, turns: list[Turn], parts: str) -> list[Turn]:
    system = fields.get(name)
    if system is None or system == "":
        return turns
    return [{"role": "system", "content": content_text(system, parts)}, *turns]


def _turn_list(
    value: Any, field: str, role_key: str, content_key: str, roles: Mapping[str, str], parts: str
) -> list[Turn]:
    if not isinstance(value, list) or not value:
        raise BadConversation("not_a_conversation", f"'{field}' is {type(value).__name__}, not a non-empty list")
    out = []
    for i, turn in enumerate(value):
        if not isinstance(turn, Mapping) or role_key not in turn:
            raise BadConversation("not_a_conversation", f"{field}[{i}] has no '{role_key}'")
        role = turn[role_key]
        if not isinstance(role, str):
            raise BadConversation("unknown_role", f"{field}[{i}]: role {role!r}")
        if content_key not in turn:
            raise BadConversation("content_not_string", f"{field}[{i}] has no '{content_key}'")
        try:
            content = content_text(turn[content_key], parts)
        except BadConversation as exc:
            raise BadConversation(exc.reason, f"{field}[{i}]: {exc.detail}") from None
        out.append({"role": roles.get(role, role), "content": content})
    return out


SHAREGPT_NAMES = {"user": "human", "assistant": "gpt", "tool": "observation"}


class Unsupported(ValueError):
    """The conversation has a shape the format cannot hold; the message is a stable reason (`tool_turns`...)."""


def write_record(messages: Sequence[Turn], fmt: str) -> dict[str, Any]:
    """One record of `fmt` holding a checked conversation, with the field and role names its trainers read.

    `messages` and `prompt_completion` (conversational: the turns before the last answer, then the answer) hold
    every conversation; `alpaca` holds an optional system turn then user/assistant pairs (`system` and
    `history` always written); `sharegpt` holds the same plus tool turns after an answer, with the system
    prompt apart, as LLaMA-Factory reads it; `text` joins the contents. Raises Unsupported
    (`system_not_first`, `tool_turns`, `not_alternating`) for a conversation the format cannot hold.
    """
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    if fmt == "messages":
        return {"messages": turns}
    if fmt == "text":
        return {"text": "\n".join(t["content"] for t in turns)}
    last = max(i for i, m in enumerate(turns) if m["role"] == "assistant")
    if fmt == "prompt_completion":
        return {"prompt": turns[:last], "completion": turns[last : last + 1]}
    system, rest = _system_apart(turns)
    if fmt == "alpaca":
        pairs = _pairs(rest, allow_tools=False)
        return {
            "instruction": pairs[-1][0],
            "input": "",
            "output": pairs[-1][1],
            "system": system,
            "history": [list(p) for p in pairs[:-1]],
        }
    if fmt == "sharegpt":
        _pairs(rest, allow_tools=True)
        return {"conversations": [{"from": SHAREGPT_NAMES[m["role"]], "value": m["content"]} for m in rest],
                "system": system}  # fmt: skip
    raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")


def _system_apart(turns: list[Turn]) -> tuple[str, list[Turn]]:
    if any(m["role"] == "system" for m in turns[1:]):
        raise Unsupported("system_not_first")
    if turns and turns[0]["role"] == "system":
        return turns[0]["content"], turns[1:]
    return "", turns


def _pairs(turns: list[Turn], allow_tools: bool) -> list[tuple[str, str]]:
    """(user, assistant) pairs of a user/assistant alternation ending with an answer (in ShareGPT tool turns may
    follow an answer); Unsupported otherwise."""
    core = [m for m in turns if not (allow_tools and m["role"] == "tool")]
    if any(m["role"] == "tool" for m in core):
        raise Unsupported("tool_turns")
    roles = [m["role"] for m in core]
    if not roles or len(roles) % 2 or roles != ["user", "assistant"] * (len(roles) // 2):
        raise Unsupported("not_alternating")
    if turns[-1]["role"] != "assistant":
        raise Unsupported("not_alternating")
    return [(core[i]["content"], core[i + 1]["content"]) for i in range(0, len(core), 2)]
