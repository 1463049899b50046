"""`--inspect` for conversation files: recognise the chat format of sniffed records and propose a source block
for sft/params.yaml (format, file_format, column, turn-key and role mappings), ready to paste.

Called by `stages.lib.ingest.inspect.inspect` once it has read the records; returns None when the records
are no conversations, so classification files keep their own block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from schemas.chat import DEFAULT_ROLES, DEFAULT_TURN_KEYS

# Role names seen in the wild -> canonical role, for names a format's defaults do not know.
ROLE_GUESSES = {
    **{n: "user" for n in ("human", "user", "prompter", "question", "customer", "usr")},
    **{n: "assistant" for n in ("gpt", "assistant", "bot", "model", "chatgpt", "answer", "agent", "ai")},
    **{n: "system" for n in ("system", "sys")},
    **{n: "tool" for n in ("tool", "observation", "function", "ipython", "function_response")},
}
TURN_KEYS = (("role", "content"), ("from", "value"), ("speaker", "text"), ("role", "text"), ("author", "text"))


def _turn_keys(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(t, Mapping) for t in value):
        return None
    return next((keys for keys in TURN_KEYS if all(keys[0] in t and keys[1] in t for t in value)), None)


def detect(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The source settings (format, columns, role_key, content_key, roles) of chat records, or None."""
    sample = [r for r in records[:1000] if isinstance(r, Mapping)]
    if not sample:
        return None
    fields = list(dict.fromkeys(k for r in sample for k in r))
    first = sample[0]
    for field in fields:
        keys = _turn_keys(first.get(field))
        if keys is None:
            continue
        fmt = "sharegpt" if keys == ("from", "value") else "messages"
        column = "conversations" if fmt == "sharegpt" else "messages"
        out: dict[str, Any] = {"format": fmt}
        if field != column:
            out["columns"] = {column: field}
        if keys != DEFAULT_TURN_KEYS.get(fmt, ("role", "content")):
            out["role_key"], out["content_key"] = keys
        seen = Counter(str(t.get(keys[0])) for r in sample for t in (r.get(field) or []) if isinstance(t, Mapping))
        if any(name not in DEFAULT_ROLES[fmt] for name in seen):
            out["roles"] = {name: ROLE_GUESSES.get(name.lower(), "user") for name in sorted(seen)}
        out["_roles_seen"] = dict(sorted(seen.items()))
        return out
    if "prompt" in first and "completion" in first:
        return {"format": "prompt_completion"}
    if "instruction" in first and "output" in first:
        return {"format": "alpaca"}
    return None


def source_block(records: Sequence[Mapping[str, Any]], name: str, rel: str, file_format: str) -> str | None:
    """A commented `ingest.sources` block for sft/params.yaml, or None when the records are no conversations."""
    found = detect(records)
    if found is None:
        return None
    roles_seen = found.pop("_roles_seen", None)
    block = {"path": rel, "format": found.pop("format"), "file_format": file_format, **found}
    lines = [f"# {rel}: {block['format']} conversations ({file_format}), {len(records)} records read"]
    if roles_seen:
        lines.append("# roles seen: " + ", ".join(f"{k} {v}" for k, v in roles_seen.items()))
    if "roles" in block:
        lines.append("# check the role mapping below: names outside the format's defaults were guessed")
    lines.append("ingest:\n  sources:")
    body = yaml.safe_dump({name: block}, sort_keys=False, allow_unicode=True, width=120)
    lines.append("\n".join("    " + line for line in body.splitlines()))
    return "\n".join(lines) + "\n"


def text_note(rel: str, name: str) -> str:
    """For a plain text file: the SFT pipeline's block for it as language-model text, commented out."""
    body = yaml.safe_dump({name: {"path": rel, "format": "text", "file_format": "text"}}, sort_keys=False)
    return "# for the SFT pipeline (sft/params.yaml) as language-model text, one row per line:\n" + "".join(
        f"#     {line}\n" for line in body.splitlines()
    )
