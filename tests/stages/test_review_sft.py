"""review for the SFT pipeline (stages/review.py `run_sft`, stages/lib/review/conversations.py): the audit's
worst conversations per kind and draft answers to pool prompts, as Label Studio tasks, Argilla records and CSV.
The issues file is written here by hand to the audit's contract (id, split, source, kind, score, detail)."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages.lib.core.errors import StageError
from stages.lib.review import conversations as conv
from stages.lib.review import exports
from tests.render_helpers import CONVERSATIONS, rows, write_split

ISSUES = [
    ("r000", "train", "fixture", "empty_answer", 1.0, "the answer is empty"),
    ("r002", "train", "fixture", "loss_outlier", 5.9, "trained-token loss 5.91 vs source median 2.10"),
    ("r001", "train", "fixture", "loss_outlier", 3.2, "trained-token loss 3.20 vs source median 2.10"),
    ("r003", "train", "fixture", "loss_outlier", 2.9, "trained-token loss 2.90 vs source median 2.10"),
    ("r000", "train", "fixture", "loss_outlier", 9.0, "flagged twice: sent once"),
    ("gone", "validation", "fixture", "truncated", 1.0, "not in any split file"),
]


def write_issues(path):
    names = ("id", "split", "source", "kind", "score", "detail")
    table = pa.Table.from_pylist([dict(zip(names, i, strict=True)) for i in ISSUES])
    pq.write_table(table.cast(pa.schema([(n, pa.float64() if n == "score" else pa.string()) for n in names])), path)


def test_issue_queue_takes_the_worst_per_kind_and_each_conversation_once(tmp_path):
    write_split(tmp_path / "split", rows())
    write_issues(tmp_path / "issues.parquet")
    issues = conv.read_issues(tmp_path / "issues.parquet")
    found = conv.conversations(tmp_path / "split", {i["id"] for i in issues})
    tasks, counts = conv.issue_tasks(issues, found, ["empty_answer", "truncated", "loss_outlier"], per_kind=2)
    assert [t["id"] for t in tasks] == ["r000", "r002", "r001"]
    assert counts == {"empty_answer": 1, "truncated": 0, "loss_outlier": 2, "not_found": 1}
    assert tasks[1]["answer"] == "spam" and tasks[1]["prompt"].startswith("system: You sort text messages.")
    assert tasks[1]["reason"] == "loss_outlier: trained-token loss 5.91 vs source median 2.10"


def test_exports_prefill_the_answer_in_each_tools_shape(tmp_path):
    tasks = [{"id": "r1", "prompt": "user: =1+1", "answer": "=2", "score": 0.25, "reason": "draft: stopped"}]
    exports.write_answer_queue(tmp_path, tasks, ["label_studio", "argilla", "csv"], 5, "refinery-x")
    ls = json.loads((tmp_path / "label_studio.json").read_text())
    result = ls[0]["predictions"][0]["result"][0]
    assert ls[0]["data"]["row_id"] == "r1" and result["type"] == "textarea"
    assert result["value"] == {"text": ["=2"]} and result["from_name"] == "answer"
    config = (tmp_path / "label_config.xml").read_text()
    assert '<TextArea name="answer" toName="prompt"' in config and 'maxRating="5"' in config
    ar = json.loads((tmp_path / "argilla.json").read_text())
    assert ar[0]["suggestions"]["answer"]["value"] == "=2" and ar[0]["fields"] == {"prompt": "user: =1+1"}
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert [q["name"] for q in settings["questions"]] == ["rating", "answer"]
    assert [o["value"] for o in settings["questions"][0]["settings"]["options"]] == [1, 2, 3, 4, 5]
    with open(tmp_path / "tasks.csv", newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["row_id"] == "r1" and row["answer"] == "'=2" and row["rating"] == ""  # spreadsheet-safe


def test_pool_reads_text_lines_jsonl_and_the_unlabeled_split(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "README.md").write_text("not a prompt file\n")
    (pool / "a.txt").write_text("What does 'cat' mean?\n\nWhat does 'cat' mean?\n")
    (pool / "b.jsonl").write_text(json.dumps({"id": "j1", "messages": CONVERSATIONS[0]}) + "\n")
    write_split(tmp_path / "split", rows())
    pq.write_table(pq.read_table(tmp_path / "split" / "test.parquet"), tmp_path / "split" / "unlabeled.parquet")
    got = conv.read_pool(tmp_path / "split" / "unlabeled.parquet", pool)
    assert [k for k, _ in got] == sorted(k for k, _ in got) and len(got) == 2  # a.txt's line once, j1
    assert dict(got)["j1"] == CONVERSATIONS[0][:1]


def test_active_queue_puts_unsure_and_unstopped_drafts_first():
    pool = [("a", [{"role": "user", "content": "q1"}]), ("b", [{"role": "user", "content": "q2"}]),
            ("c", [{"role": "user", "content": "q3"}]), ("d", [{"role": "user", "content": "q4"}])]  # fmt: skip
    drafts = [
        {"generation": "sure", "stopped": True, "confidence": 0.9},
        {"generation": "unsure", "stopped": True, "confidence": 0.2},
        {"generation": "rambling", "stopped": False, "confidence": 0.95},
        {"generation": "", "stopped": True, "confidence": None},
    ]
    tasks = conv.active_tasks(pool, drafts, budget=3)
    assert [t["id"] for t in tasks] == ["d", "c", "b"]
    assert tasks[0]["score"] is None and tasks[1]["reason"].startswith("draft: did not stop")


@pytest.mark.parametrize("line", ['{"prompt": "Hi', '["a list"]'])
def test_a_pool_line_that_is_not_a_json_object_names_its_file_and_line(tmp_path, line):
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "asks.jsonl").write_text('{"prompt": "What is a dog?"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"asks\.jsonl:2"):
        conv.read_pool(tmp_path / "none.parquet", pool)
