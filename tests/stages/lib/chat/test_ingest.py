"""Each bad conversation is a counted reject with its reason; the counts add up; nothing crashes."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from schemas.paths import IngestPaths
from stages.lib.chat import ingest
from stages.lib.chat.conversation import MESSAGES_TYPE, BadConversation, check_turns, conversation_text
from stages.lib.core.errors import StageError
from tests.stages.lib.chat.helpers import ingest_params, turns, write_jsonl

GOOD = {"messages": turns(("user", "Q?"), ("assistant", "A."))}
BAD = {
    "no_assistant_turn": {"messages": turns(("user", "Anyone?"))},
    "empty_assistant_turn": {"messages": turns(("user", "Say nothing."), ("assistant", " \n"))},
    "roles_out_of_order": {"messages": turns(("user", "One."), ("user", "Two."), ("assistant", "Three."))},
    "unknown_role": {"messages": turns(("user", "Hi"), ("robot", "Beep."))},
    "content_not_string": {"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "A."}]},
    "too_many_turns": {"messages": turns(*[("user", "q"), ("assistant", "a")] * 3)},
    "too_long": {"messages": turns(("user", "Q" * 50), ("assistant", "A" * 60))},
    "missing_field": {"conversation": []},
    "not_a_conversation": {"messages": "user: hi"},
    "malformed_json": '{"messages": [',
    "not_an_object": "[1, 2]",
    "blank_line": "",
}


def run_ingest(tmp_path, records, **settings):
    write_jsonl(tmp_path / "data" / "c.jsonl", records)
    cfg = ingest_params({"chat": {"path": "data/c.jsonl", "format": "messages"}}, **settings)
    paths = IngestPaths(rows=str(tmp_path / "rows.parquet"), rejects=str(tmp_path / "rejects.parquet"))
    return ingest.run(cfg, paths, root=tmp_path), pq.read_table(paths.rows), pq.read_table(paths.rejects)


@pytest.mark.parametrize("reason", sorted(BAD))
def test_each_reason_is_a_counted_reject(tmp_path, reason):
    metrics, rows, rejects = run_ingest(tmp_path, [GOOD, BAD[reason]], max_turns=4, max_chars=100)
    assert rows.num_rows == 1
    assert rejects.column("reason").to_pylist() == [reason]
    assert metrics["dropped"][reason] == 1
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())


def test_every_reason_of_the_stage_is_in_the_metrics_even_at_zero(tmp_path):
    metrics, _, _ = run_ingest(tmp_path, [GOOD])
    assert set(metrics["dropped"]) == set(ingest.REASONS) and not any(metrics["dropped"].values())


def test_merge_consecutive_merges_same_role_turns(tmp_path):
    _, rows, rejects = run_ingest(tmp_path, [BAD["roles_out_of_order"]], merge_consecutive=True)
    assert rejects.num_rows == 0
    assert rows.column("messages").to_pylist()[0] == turns(("user", "One.\n\nTwo."), ("assistant", "Three."))


@pytest.mark.parametrize(
    ("roles", "reason"),
    [
        (["assistant"], "roles_out_of_order"),  # answers nothing
        (["system", "system", "user", "assistant"], "roles_out_of_order"),
        (["user", "assistant", "user"], "roles_out_of_order"),  # ends on a question
        (["user", "tool", "assistant"], "roles_out_of_order"),  # a tool result needs a call first
        (["user", "assistant", "tool", "assistant"], None),
        (["system", "user", "assistant", "user", "assistant"], None),
    ],
)
def test_role_order(roles, reason):
    messages = turns(*[(r, "x") for r in roles])
    if reason is None:
        assert check_turns(messages, merge_consecutive=False, max_turns=None, max_chars=None) == messages
    else:
        with pytest.raises(BadConversation) as err:
            check_turns(messages, merge_consecutive=False, max_turns=None, max_chars=None)
        assert err.value.reason == reason


def test_rejects_keep_the_raw_record_and_location(tmp_path):
    _, _, rejects = run_ingest(tmp_path, [GOOD, BAD["unknown_role"]])
    row = rejects.to_pylist()[0]
    assert row["location"] == "data/c.jsonl:2" and '"robot"' in row["raw"] and "robot" in row["detail"]


def test_too_many_rejects_fail_before_writing(tmp_path):
    write_jsonl(tmp_path / "data" / "c.jsonl", [BAD["unknown_role"]] * 3 + [GOOD])
    cfg = ingest_params({"chat": {"path": "data/c.jsonl", "format": "messages"}}, max_reject_fraction=0.5)
    paths = IngestPaths(rows=str(tmp_path / "rows.parquet"), rejects=str(tmp_path / "rejects.parquet"))
    with pytest.raises(StageError, match=r"ingest\.max_reject_fraction"):
        ingest.run(cfg, paths, root=tmp_path)
    assert not (tmp_path / "rows.parquet").exists()


def test_rows_carry_the_contract_columns(tmp_path):
    _, rows, _ = run_ingest(tmp_path, [GOOD])
    assert {"id", "source", "messages", "text", "label", "location", "format"} <= set(rows.column_names)
    assert rows.schema.field("messages").type.equals(MESSAGES_TYPE)
    assert rows.column("text").to_pylist() == [conversation_text(GOOD["messages"])]


def test_own_ids_missing_duplicate_or_not_unicode_are_counted_rejects(tmp_path):
    """One definition of a row's key (stages/lib/core/ids.py: row_key) for both ingests: a conversation's own
    id that is a lone surrogate (`"\\ud800"` in JSON) was stored and crashed the Parquet write; now a reject."""
    records = [
        GOOD | {"uid": "a"},
        GOOD | {"uid": "a"},
        GOOD,
        '{"uid": "\\ud800", "messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}',
        GOOD | {"uid": "b"},
    ]
    write_jsonl(tmp_path / "data" / "c.jsonl", records)
    cfg = ingest_params({"chat": {"path": "data/c.jsonl", "format": "messages", "id_field": "uid"}})
    paths = IngestPaths(rows=str(tmp_path / "rows.parquet"), rejects=str(tmp_path / "rejects.parquet"))
    metrics = ingest.run(cfg, paths, root=tmp_path)
    reasons = sorted(pq.read_table(paths.rejects).column("reason").to_pylist())
    assert reasons == ["duplicate_id", "invalid_unicode", "missing_id"]
    assert pq.read_table(paths.rows).num_rows == 2
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())
