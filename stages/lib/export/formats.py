"""One conversation in the formats trainers read; a conversation a format cannot hold is skipped with a reason.

- `messages`: OpenAI / TRL conversational (`{"messages": [{role, content}, ...]}`), every conversation.
- `prompt_completion`: TRL conversational prompt-completion (`prompt`: the turns before the last assistant turn,
  `completion`: that turn), every conversation.
- `alpaca`: `instruction` (last user turn), `input` (empty), `output` (last answer), `system`, `history`
  (earlier `[user, assistant]` pairs): conversations of an optional system turn then user/assistant pairs.
- `sharegpt`: `conversations` of `{from, value}` (`human`, `gpt`, `observation` for tool turns) and `system`
  apart, as LLaMA-Factory reads it: the same shape as alpaca, tool turns allowed after an answer.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("messages", "prompt_completion", "alpaca", "sharegpt")
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "tool": "observation"}


class Unsupported(ValueError):
    """The conversation has a shape this format cannot hold (the message is the skip reason)."""


def to_format(fmt: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    """The record of `messages` in format `fmt`; Unsupported when the format cannot hold them."""
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    if fmt == "messages":
        return {"messages": messages}
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    if fmt == "prompt_completion":
        return {"prompt": messages[:last], "completion": messages[last : last + 1]}
    system, turns = _system_and_turns(messages)
    if fmt == "alpaca":
        pairs = _pairs(turns, allow_tools=False)
        return {
            "instruction": pairs[-1][0],
            "input": "",
            "output": pairs[-1][1],
            "system": system,
            "history": [list(p) for p in pairs[:-1]],
        }
    if fmt == "sharegpt":
        _pairs(turns, allow_tools=True)
        return {
            "conversations": [{"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]} for m in turns],
            "system": system,
        }
    raise ValueError(f"unknown export format '{fmt}'; choose from {FORMATS}")


def _system_and_turns(messages: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    if any(m["role"] == "system" for m in messages[1:]):
        raise Unsupported("system_not_first")
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return "", messages


def _pairs(turns: list[dict[str, str]], allow_tools: bool) -> list[tuple[str, str]]:
    """(user, assistant) pairs of a user/assistant alternation that ends with an answer (tool turns may follow an
    answer in ShareGPT); Unsupported otherwise."""
    core = [m for m in turns if not (allow_tools and m["role"] == "tool")]
    if any(m["role"] == "tool" for m in core):
        raise Unsupported("tool_turns")
    roles = [m["role"] for m in core]
    if len(roles) % 2 or roles != ["user", "assistant"] * (len(roles) // 2) or not roles:
        raise Unsupported("not_alternating")
    if turns[-1]["role"] != "assistant":
        raise Unsupported("not_alternating")
    return [(core[i]["content"], core[i + 1]["content"]) for i in range(0, len(core), 2)]


def llama_factory_entries(name: str, formats: list[str], splits: list[str]) -> dict[str, Any]:
    """LLaMA-Factory `dataset_info.json` entries for the alpaca and ShareGPT files (paths relative to it)."""
    out: dict[str, Any] = {}
    for split in splits:
        if "alpaca" in formats:
            out[f"{name}_alpaca_{split}"] = {
                "file_name": f"alpaca/{split}.jsonl",
                "formatting": "alpaca",
                "columns": {
                    "prompt": "instruction",
                    "query": "input",
                    "response": "output",
                    "system": "system",
                    "history": "history",
                },
            }
        if "sharegpt" in formats:
            out[f"{name}_sharegpt_{split}"] = {
                "file_name": f"sharegpt/{split}.jsonl",
                "formatting": "sharegpt",
                "columns": {"messages": "conversations", "system": "system"},
                "tags": {
                    "role_tag": "from",
                    "content_tag": "value",
                    "user_tag": "human",
                    "assistant_tag": "gpt",
                    "observation_tag": "observation",
                },
            }
    return out


def axolotl_snippet(template_name: str, template_source: str | None, train_on_eos: bool) -> dict[str, Any]:
    """The `datasets` part of an axolotl config for the messages JSONL, with the chat template render used."""
    dataset = {
        "path": "messages/train.jsonl",
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
        "train_on_eos": "turn" if train_on_eos else "none",
    }
    out: dict[str, Any] = {}
    if template_source is None:
        out["chat_template"] = "tokenizer_default"
    else:
        out["chat_template"] = "jinja"
        out["chat_template_jinja"] = template_source
    out["datasets"] = [dataset]
    out["test_datasets"] = [{**dataset, "path": "messages/validation.jsonl", "split": "train"}]
    out["comment"] = f"chat template '{template_name}'; paths are relative to this export folder"
    return out
