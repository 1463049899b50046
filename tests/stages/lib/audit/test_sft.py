"""The SFT audit end to end on a tiny project in a temporary folder: render's real output, a tiny Llama model
(2 layers, hidden 32) saved as the `full` approach, planted problems of each kind that needs no training."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from schemas.clean import NearDupParams
from schemas.render import RenderParams
from schemas.sft_audit import SftAuditParams
from stages import render
from stages.lib.audit.sft import ISSUE_SCHEMA, run
from tests.render_helpers import CONVERSATIONS, conv, rows, setup, write_split
from tests.stages.lib.model.causal.conftest import tiny_llama

LONG = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)
PLANTED = [
    conv(("user", "Describe the fox."), ("assistant", LONG)),  # answer cut by right truncation
    conv(("user", LONG), ("assistant", "Yes.")),  # the answer lies past max_length: dropped by render
    conv(("user", "What does the noun 'bank' mean?"), ("assistant", "A financial institution.")),  # conflicts with
    conv(("user", "What does the noun 'bank' mean?"), ("assistant", "Sloping land beside a river.")),  # this one
    conv(("user", "Who are you?"), ("assistant", "As an AI language model, I have no name.")),
]
RENDER = RenderParams(max_length=128, truncation="right", packing=False)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sftaudit")
    paths = setup(tmp)
    train = rows(CONVERSATIONS + PLANTED)
    test_rows = rows([conv(("user", "Hello?"), ("assistant", "As an AI language model, hello."))], "t")
    write_split(tmp / "split", train, rows(CONVERSATIONS[:2], "v"), test_rows)
    render.run(RENDER, paths)
    from stages.lib.render.files import load_tokenizer

    tok = load_tokenizer(paths.tokenizer)
    tok.save_pretrained(tmp / "base")
    tiny_llama(tok).save_pretrained(tmp / "models" / "full")
    cfg = SftAuditParams(loss_outlier={"min_rows": 3})
    metrics = run(
        cfg,
        issues_path=tmp / "audit" / "issues.parquet",
        split_dir=paths.split,
        rendered_dir=paths.rendered,
        tokenizer_dir=paths.tokenizer,
        models_dir=tmp / "models",
        base_dir=tmp / "base",
        kind="full",
        render=RENDER.model_dump(),
        near=NearDupParams(unit="char", ngram=5, threshold=0.9).model_dump(),
        trust_remote_code=False,
        num_threads=1,
    )
    return metrics, pq.read_table(tmp / "audit" / "issues.parquet"), train


def test_issues_follow_the_contract(audited):
    _, table, _ = audited
    assert table.schema.equals(ISSUE_SCHEMA)
    issues = table.to_pylist()
    assert issues == sorted(issues, key=lambda r: (r["kind"], -r["score"], r["id"]))
    assert {r["split"] for r in issues} <= {"train", "validation"}
    assert not any(r["id"].startswith("t") for r in issues)  # test rows are never audited


def test_planted_problems_are_found(audited):
    _, table, train = audited
    ids = {i: r["id"] for i, r in enumerate(train)}
    found = {(r["id"], r["kind"]): r for r in table.to_pylist()}
    n = len(CONVERSATIONS)
    cut, dropped = found[(ids[n], "truncated")], found[(ids[n + 1], "truncated")]
    assert cut["detail"].startswith("answer cut:") and 0 < cut["score"] < 1
    assert dropped["detail"].startswith("dropped by render:") and dropped["score"] == 1.0
    assert (ids[n + 2], "conflicting_answer") in found and (ids[n + 3], "conflicting_answer") in found
    assert found[(ids[n + 4], "boilerplate")]["source"] == "fixture"
    # the fixture's ordinary conversations carry none of the kinds that need no trained model
    ordinary = {r["id"] for r in train[:n]}
    assert not [k for k in found if k[0] in ordinary and k[1] != "loss_outlier"]


def test_metrics_count_every_row_and_drop_none(audited):
    metrics, table, train = audited
    assert metrics["rows"] == len(train) + 2  # train and validation, nothing dropped
    flagged = set(table.column("id").to_pylist())
    assert metrics["problem_rows"] == len(flagged)
    assert metrics["problem_share"] == round(len(flagged) / metrics["rows"], 6)
    interval = metrics["problem_share_interval"]
    assert interval["low"] <= metrics["problem_share"] <= interval["high"]
    assert set(metrics["issues"]) == {"loss_outlier", "conflicting_answer", "truncated", "empty_answer", "boilerplate"}
    assert sum(metrics["issues"].values()) == table.num_rows
    # render dropped one row for length: it has no loss, every other row has
    assert metrics["loss"]["rows_scored"] == metrics["rows"] - 1 and metrics["loss"]["rows_not_rendered"] == 1
    json.dumps(metrics)  # plain JSON for write_metrics


def test_a_missing_model_or_render_names_the_stage_to_run(tmp_path):
    from stages.lib.audit.sft import load_scorer, row_mean_losses
    from stages.lib.core.errors import StageError

    with pytest.raises(StageError, match=r"run train@full first \(audit\.approach\)"):
        load_scorer(tmp_path / "models", "full", "full", tmp_path / "base", False)
    with pytest.raises(StageError, match="run render first"):
        row_mean_losses(tmp_path, ["train"], None, 0, 1)


def test_left_truncation_flags_the_cut_prompt_and_the_dropped_answer(tmp_path):
    from pathlib import Path

    from stages.lib.audit.conversations import truncations
    from stages.lib.audit.sft import length_rows, read_conversations

    paths = setup(tmp_path)
    write_split(tmp_path / "split", rows(CONVERSATIONS + PLANTED[:2]))
    left = RenderParams(max_length=128, truncation="left", packing=False)
    render.run(left, paths)
    conversations = read_conversations(paths.split, ["train"])
    lengths = length_rows(conversations, Path(paths.rendered), ["train"], paths.tokenizer, left.model_dump())
    found = {f["id"]: f for f in truncations(lengths, prompt_cut=True)}
    n = len(CONVERSATIONS)
    long_answer, long_prompt = f"r{n:03d}", f"r{n + 1:03d}"
    assert set(found) == {long_answer, long_prompt}
    assert found[long_answer]["detail"].startswith("dropped by render:")  # the answer alone exceeds 128 tokens
    assert found[long_prompt]["detail"].startswith("prompt cut:") and 0.5 < found[long_prompt]["score"] < 1
    assert truncations(lengths, prompt_cut=False) == [found[long_answer]]
