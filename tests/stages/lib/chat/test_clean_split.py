"""clean per turn, dedup on whole conversations, prompt conflicts; split grouped by cluster with leakage measured."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.chat import ChatCleanParams, ChatSplitParams
from stages.lib.chat import clean, split
from stages.lib.chat.conversation import MESSAGES_TYPE, conversation_text
from stages.lib.core.ids import row_id
from tests.stages.lib.chat.helpers import turns

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


def conversation(i: int, answer: str | None = None, system: str | None = None) -> list[dict[str, str]]:
    topic = hashlib.sha256(str(i).encode()).hexdigest()[:32]  # distinct texts: no accidental near duplicates
    pairs = [("user", f"Tell me a story about {topic}."), ("assistant", answer or f"Once upon a time {topic} lived.")]
    return turns(*([("system", system)] if system else []), *pairs)


def write_rows(path, conversations):
    rows = [
        {"id": row_id("t", str(i)), "text": conversation_text(m), "messages": m, "label": None, "source": "t"}
        for i, m in enumerate(conversations)
    ]
    schema = pa.schema(
        [("id", pa.string()), ("text", pa.string()), ("messages", MESSAGES_TYPE), ("label", pa.string()),
         ("source", pa.string())]
    )  # fmt: skip
    pq.write_table(pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]), schema=schema), path)
    return path


def run_clean(tmp_path, conversations, **settings):
    src = write_rows(tmp_path / "in.parquet", conversations)
    out = [str(tmp_path / f"{n}.parquet") for n in ("rows", "rejects", "conflicts")]
    metrics = clean.run(ChatCleanParams.model_validate(settings), src, *out)
    return metrics, *(pq.read_table(p) for p in out)


def test_every_turn_is_normalised_and_masked(tmp_path):
    messy = turns(("user", "Mail me at ann@example.com   please"), ("assistant", "Caf\u00e9  &amp; tea"))
    metrics, rows, _, _ = run_clean(tmp_path, [messy])
    expected = turns(("user", "Mail me at <EMAIL> please"), ("assistant", "Café & tea"))
    assert rows.column("messages").to_pylist()[0] == expected
    assert rows.column("text").to_pylist()[0] == conversation_text(rows.column("messages").to_pylist()[0])
    assert metrics["pii"]["email"] == 1 and metrics["changed"]["whitespace"] == 2  # turns changed


def test_filters_apply_per_role(tmp_path):
    short_answer = turns(("user", "A long enough question here?"), ("assistant", "No."))
    short_question = turns(("user", "Why?"), ("assistant", "Because the sky scatters blue light more."))
    filters = {"assistant": {"min_words": 3}, "user": {"min_chars": 1}}
    metrics, rows, rejects, _ = run_clean(tmp_path, [short_answer, short_question], filters=filters)
    assert rows.num_rows == 1 and rows.column("messages").to_pylist()[0] == short_question
    assert rejects.column("reason").to_pylist() == ["too_few_words"]
    assert "assistant turn 1" in rejects.column("detail").to_pylist()[0]
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())


def test_exact_and_near_duplicate_conversations_are_removed(tmp_path):
    convs = [conversation(i) for i in range(6)]
    near = [convs[1][0], {"role": "assistant", "content": convs[1][1]["content"] + "!"}]
    metrics, rows, rejects, _ = run_clean(tmp_path, [*convs, convs[0], near])
    assert rows.num_rows == 6
    assert sorted(rejects.column("reason").to_pylist()) == ["exact_dup", "near_dup"]
    assert metrics["dropped"]["exact_dup"] == metrics["dropped"]["near_dup"] == 1
    assert set(rows.column("dup_count").to_pylist()) == {1, 2}


@pytest.mark.parametrize(("action", "kept"), [("keep", 7), ("drop", 5)])
def test_same_prompt_different_answers_is_a_reported_conflict(tmp_path, action, kept):
    convs = [conversation(i) for i in range(6)]
    other = turns(("user", convs[2][0]["content"]), ("assistant", "A wholly unrelated reply with other words."))
    metrics, rows, _, conflicts = run_clean(tmp_path, [*convs, other], on_prompt_conflict=action)
    assert rows.num_rows == kept
    assert conflicts.num_rows == 2 and len(set(conflicts.column("prompt_cluster").to_pylist())) == 1
    assert metrics["prompt_conflicts"]["clusters"] == 1
    assert metrics["dropped"]["prompt_conflict"] == (2 if action == "drop" else 0)


def test_templated_prompts_are_not_one_prompt(tmp_path):
    convs = [turns(("user", f'What does the word "{w}" mean?'), ("assistant", f"{w} is a code word {i}.")) for i, w in
             enumerate(["alpha", "bravo", "charlie", "delta"])]  # fmt: skip
    _, rows, _, conflicts = run_clean(tmp_path, convs)
    assert conflicts.num_rows == 0 and rows.num_rows == 4


def test_split_keeps_prompt_clusters_together_and_measures_leakage(tmp_path):
    convs = [conversation(i) for i in range(30)]
    # five conversations asking one question with different answers: one prompt cluster
    question = convs[0][0]["content"]
    convs += [turns(("user", question), ("assistant", f"Ending number {k}: {WORDS[k]} wins.")) for k in range(5)]
    _, _, _, _ = run_clean(tmp_path, convs)
    folder = tmp_path / "split"
    params = ChatCleanParams()
    metrics = split.run(ChatSplitParams(), params.near_dup, params.prompt_near_dup, tmp_path / "rows.parquet", folder)
    tables = {s: pq.read_table(folder / f"{s}.parquet") for s in ("train", "validation", "test", "unlabeled")}
    where = {r["id"]: s for s, t in tables.items() for r in t.select(["id", "prompt_cluster"]).to_pylist()}
    clusters = {}
    for s, t in tables.items():
        for r in t.select(["prompt_cluster"]).to_pylist():
            clusters.setdefault(r["prompt_cluster"], set()).add(s)
    assert all(len(v) == 1 for v in clusters.values())
    assert len(where) == metrics["rows_out"] == 35 and tables["unlabeled"].num_rows == 0
    assert metrics["leakage"] == {"exact": 0, "near": 0, "prompt": 0, "action": "drop_from_test", "remaining": 0}
    assert set(tables["train"].column("split").to_pylist()) == {"train"}


def test_split_drops_a_leak_it_measures(tmp_path):
    # without the clean columns, only exact text groups: a near copy may cross splits and is caught
    convs = [conversation(i) for i in range(20)]
    convs += [[c[0], {"role": "assistant", "content": c[1]["content"] + " The end."}] for c in convs[:10]]
    write_rows(tmp_path / "rows.parquet", convs)
    params = ChatCleanParams()
    nd, prompt_nd = params.near_dup, params.prompt_near_dup
    metrics = split.run(ChatSplitParams(), nd, prompt_nd, tmp_path / "rows.parquet", tmp_path / "s")
    rejects = pq.read_table(tmp_path / "s" / "rejects.parquet")
    assert rejects.num_rows == sum(metrics["dropped"].values()) > 0
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())


def test_hash_split_is_stable_when_rows_are_added(tmp_path):
    params = ChatCleanParams()
    nd, prompt_nd = params.near_dup, params.prompt_near_dup
    cfg = ChatSplitParams(method="hash")
    write_rows(tmp_path / "a.parquet", [conversation(i) for i in range(40)])
    write_rows(tmp_path / "b.parquet", [conversation(i) for i in range(60)])
    split.run(cfg, nd, prompt_nd, tmp_path / "a.parquet", tmp_path / "a")
    split.run(cfg, nd, prompt_nd, tmp_path / "b.parquet", tmp_path / "b")

    def where(folder):
        return {
            i: s
            for s in ("train", "validation", "test")
            for i in pq.read_table(folder / f"{s}.parquet")["id"].to_pylist()
        }

    before, after = where(tmp_path / "a"), where(tmp_path / "b")
    assert all(after[i] == s for i, s in before.items())
