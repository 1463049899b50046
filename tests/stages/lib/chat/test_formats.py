"""Every conversation format reads into the golden turns and writes back to the same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages.lib.chat import ingest
from stages.lib.chat.formats import Unsupported, write_record
from tests.stages.lib.chat.helpers import FIXTURES, ingest_params, write_jsonl

FORMATS = FIXTURES / "formats"
FILES = {
    "messages": "messages.jsonl",
    "prompt_completion": "prompt_completion.jsonl",
    "alpaca": "alpaca.json",
    "sharegpt": "sharegpt.jsonl",
    "text": "text.txt",
}
EXPECTED = json.loads((FORMATS / "expected.json").read_text())


def read_format(fmt: str, root: Path = FORMATS, path: str | None = None, **source: object):
    cfg = ingest_params({"golden": {"path": path or FILES[fmt], "format": fmt, **source}})
    src = cfg.sources["golden"]
    return ingest.to_rows(src, ingest.read_records(src, root), cfg)


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_golden_file_reads_into_expected_turns(fmt):
    rows, rejects = read_format(fmt)
    assert rejects == []
    assert [r["messages"] for r in rows] == EXPECTED[fmt]
    assert all(r["format"] == fmt and r["label"] is None for r in rows)


WRITTEN = ("messages", "prompt_completion", "alpaca", "sharegpt")
CONVERSATIONS = [c for fmt in WRITTEN for c in EXPECTED[fmt]]


def supported(fmt: str) -> list[list[dict[str, str]]]:
    out = []
    for messages in CONVERSATIONS:
        try:
            write_record(messages, fmt)
        except Unsupported:
            continue
        out.append(messages)
    return out


@pytest.mark.parametrize("fmt", WRITTEN)
def test_conversations_write_to_the_golden_records_and_read_back(fmt):
    """Every golden conversation written in each format (golden files in formats/written/), then read back by
    the same format's reader with its default settings: the same turns."""
    golden = [json.loads(line) for line in (FORMATS / "written" / f"{fmt}.jsonl").read_text().splitlines()]
    assert [write_record(m, fmt) for m in supported(fmt)] == golden
    rows, rejects = read_format(fmt, FORMATS / "written", f"{fmt}.jsonl")
    assert rejects == [] and [r["messages"] for r in rows] == supported(fmt)


@pytest.mark.parametrize(
    ("fmt", "roles", "reason"),
    [
        ("alpaca", ["user", "assistant", "tool", "assistant"], "tool_turns"),
        ("alpaca", ["user", "assistant", "system", "user", "assistant"], "system_not_first"),
        ("sharegpt", ["user", "assistant", "tool", "assistant"], "not_alternating"),
    ],
)
def test_a_format_that_cannot_hold_a_conversation_says_why(fmt, roles, reason):
    with pytest.raises(Unsupported, match=reason):
        write_record([{"role": r, "content": "x"} for r in roles], fmt)


def test_alpaca_input_joins_the_instruction_after_a_blank_line(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Translate.", "input": "chat", "output": "cat"}])
    rows, _ = read_format("alpaca", tmp_path, "a.jsonl")
    assert rows[0]["messages"][0] == {"role": "user", "content": "Translate.\n\nchat"}


def test_columns_and_roles_are_mapped_like_llama_factory(tmp_path):
    record = {"dialog": [{"speaker": "asker", "says": "Hi?"}, {"speaker": "bot", "says": "Hello."}], "sys": "Be kind."}
    write_jsonl(tmp_path / "d.jsonl", [record])
    rows, rejects = read_format(
        "sharegpt",
        tmp_path,
        "d.jsonl",
        columns={"conversations": "dialog", "system": "sys"},
        role_key="speaker",
        content_key="says",
        roles={"asker": "user", "bot": "assistant"},
    )
    assert rejects == []
    assert rows[0]["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Hello."},
    ]


def test_text_parts_are_joined_only_when_allowed(tmp_path):
    parts = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]
    record = {"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "Hi."}]}
    write_jsonl(tmp_path / "p.jsonl", [record])
    _, rejects = read_format("messages", tmp_path, "p.jsonl")
    assert [r["reason"] for r in rejects] == ["content_not_string"]
    cfg = ingest_params({"p": {"path": "p.jsonl", "format": "messages"}}, content_parts="join_text")
    rows, rejects = ingest.to_rows(cfg.sources["p"], ingest.read_records(cfg.sources["p"], tmp_path), cfg)
    assert rejects == [] and rows[0]["messages"][0]["content"] == "Hello there"


def test_ids_are_stable_and_unique_for_repeated_conversations(tmp_path):
    record = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    write_jsonl(tmp_path / "r.jsonl", [record, record])
    first, _ = read_format("messages", tmp_path, "r.jsonl")
    again, _ = read_format("messages", tmp_path, "r.jsonl")
    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert len({r["id"] for r in first}) == 2
