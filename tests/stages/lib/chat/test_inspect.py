"""`--inspect` recognises each conversation format and prints a block that ingests the file as it is."""

from __future__ import annotations

import json

import pytest
import yaml

from stages.lib.chat import ingest
from stages.lib.ingest.inspect import inspect
from tests.stages.lib.chat.helpers import FIXTURES, ingest_params, write_jsonl

EXPECTED = json.loads((FIXTURES / "formats" / "expected.json").read_text())
FILES = {
    "messages": "messages.jsonl",
    "prompt_completion": "prompt_completion.jsonl",
    "alpaca": "alpaca.json",
    "sharegpt": "sharegpt.jsonl",
}


def ingest_block(text, root):
    sources = yaml.safe_load(text)["ingest"]["sources"]
    cfg = ingest_params(sources)
    source = next(iter(cfg.sources.values()))
    return ingest.to_rows(source, ingest.read_records(source, root), cfg)


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_each_format_is_recognised_and_its_block_works(fmt):
    root = FIXTURES / "formats"
    text = inspect(root / FILES[fmt], root=root)
    assert f"format: {fmt}" in text
    rows, rejects = ingest_block(text, root)
    assert rejects == [] and [r["messages"] for r in rows] == EXPECTED[fmt]


def test_mapped_columns_keys_and_roles_are_proposed(tmp_path):
    record = {"dialog": [{"speaker": "customer", "text": "Hi?"}, {"speaker": "agent", "text": "Hello."}]}
    write_jsonl(tmp_path / "d.jsonl", [record, record])
    text = inspect(tmp_path / "d.jsonl", root=tmp_path)
    assert "columns:\n        messages: dialog" in text and "role_key: speaker" in text
    assert "customer: user" in text and "agent: assistant" in text
    rows, rejects = ingest_block(text, tmp_path)
    assert rejects == [] and rows[0]["messages"][1] == {"role": "assistant", "content": "Hello."}


def test_a_plain_text_file_also_shows_the_sft_block():
    text = inspect(FIXTURES / "formats" / "text.txt", root=FIXTURES / "formats")
    assert "# for the SFT pipeline" in text and "#       format: text" in text


def test_classification_files_keep_their_block(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", [{"text": "free prize now", "label": "spam"}, {"text": "hi", "label": "ham"}])
    text = inspect(tmp_path / "c.jsonl", root=tmp_path)
    assert "text_field: text" in text and "conversations" not in text
