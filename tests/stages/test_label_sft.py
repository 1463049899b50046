"""label for the SFT pipeline (stages/label.py `run_sft`, stages/lib/label/conversations.py): reviewed answers
replace the last assistant turn, low ratings drop the conversation as a counted reject, unknown ids are kept
apart, and with no correction file the rows pass byte for byte."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.chat import ChatCleanParams
from schemas.paths import LabelPaths
from schemas.sft_refine import SftLabelParams
from stages import label
from stages.lib.chat.conversation import conversation_text
from stages.lib.core.errors import StageError
from stages.lib.core.io import write_parquet
from stages.lib.review import exports
from tests.render_helpers import CONVERSATIONS, MESSAGES_TYPE

CLEAN = ChatCleanParams()


def run_sft(cfg, paths, rows_path, clean=CLEAN):
    filters = {role: f.model_dump() for role, f in clean.filters.items()}
    return label.run_sft(cfg, paths, rows_path, clean.normalize.model_dump(), clean.pii.model_dump(), filters)


SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("messages", MESSAGES_TYPE), ("text", pa.string())])


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [
        {"id": f"c{i}", "source": "fixture", "messages": m, "text": conversation_text(m)}
        for i, m in enumerate(CONVERSATIONS)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=SCHEMA), "cleaned.parquet")
    return LabelPaths(
        annotations="annotations",
        rows="labeled/rows.parquet",
        rejects="labeled/rejects.parquet",
        unmatched="labeled/unmatched.parquet",
        history="labeled/history.parquet",
        metrics="m.json",
        details="d.json",
    )


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row_id", "prompt", "answer", "rating"])
        writer.writerows(rows)


def test_no_annotations_folder_passes_the_rows_byte_for_byte(project, tmp_path):
    metrics = run_sft(SftLabelParams(), project, "cleaned.parquet")
    assert (tmp_path / project.rows).read_bytes() == (tmp_path / "cleaned.parquet").read_bytes()
    assert metrics["rows_in"] == metrics["rows_out"] == len(CONVERSATIONS)
    assert metrics["edited"] == 0 and metrics["dropped"] == {"low_rating": 0}
    assert pq.read_table(project.history).num_rows == pq.read_table(project.rejects).num_rows == 0
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "README.md").write_text("corrections go here\n")
    assert run_sft(SftLabelParams(), project, "cleaned.parquet")["corrections"]["files"] == 0
    assert (tmp_path / project.rows).read_bytes() == (tmp_path / "cleaned.parquet").read_bytes()


def test_csv_edits_replace_the_last_answer_and_low_ratings_drop_the_row(project, tmp_path):
    write_csv(
        tmp_path / "annotations" / "round1.csv",
        [
            ["c0", "p", "A domesticated  canid; ask bob@example.com", "4"],  # edited: clean's text path
            ["c1", "p", "They pulled the canoe up on the bank.", "5"],  # unchanged
            ["c2", "p", "spam", "1"],  # dropped
            ["nope", "p", "x", "5"],  # unmatched
            ["", "p", "x", "5"],  # no key
            ["c3", "p", "", "five"],  # bad rating
        ],
    )
    metrics = run_sft(SftLabelParams(min_rating=3, max_unmatched_fraction=0.5), project, "cleaned.parquet")
    assert metrics["rows_in"] == metrics["rows_out"] + metrics["dropped"]["low_rating"]
    assert metrics["edited"] == 1 and metrics["dropped"]["low_rating"] == 1
    c = metrics["corrections"]
    assert (c["read"], c["matched"], c["unmatched"]) == (6, 3, 1)
    assert c["rejected"]["missing_key"] == 1 and c["rejected"]["bad_rating"] == 1
    rows = {r["id"]: r for r in pq.read_table(project.rows).to_pylist()}
    assert "c2" not in rows
    assert rows["c0"]["messages"][-1] == {"role": "assistant", "content": "A domesticated canid; ask <EMAIL>"}
    assert rows["c0"]["text"] == conversation_text(rows["c0"]["messages"])
    assert rows["c1"]["messages"] == CONVERSATIONS[1]
    rejects = pq.read_table(project.rejects).to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["bad_rating", "low_rating", "missing_key"]
    assert pq.read_table(project.unmatched).column("key").to_pylist() == ["nope"]
    history = pq.read_table(project.history).to_pylist()
    assert [(h["id"], h["action"]) for h in history] == [
        ("c0", "edited"),
        ("c1", "unchanged"),
        ("c2", "dropped_low_rating"),
    ]
    assert history[0]["old_answer"] == "A member of the genus Canis." and history[0]["round"] == 1


def test_label_studio_and_argilla_exports_and_later_rounds_win(project, tmp_path):
    tasks = [{"id": "c0", "prompt": "p", "answer": "old", "score": 0.5, "reason": "empty_answer: x"}]
    ls = exports.label_studio_answers(tasks, "v1")
    ls[0]["annotations"] = [
        {
            "completed_by": {"email": "a@x"},
            "result": [
                {"from_name": "answer", "to_name": "prompt", "type": "textarea", "value": {"text": ["A canine."]}},
                {"from_name": "rating", "to_name": "prompt", "type": "rating", "value": {"rating": 4}},
            ],
        },
        {"was_cancelled": True, "result": []},
    ]
    ar = exports.argilla_answers([{**tasks[0], "id": "c4"}], "v1")
    ar[0]["responses"] = {"rating": [{"value": 2, "user_id": "u1"}]}
    folder = tmp_path / "annotations"
    folder.mkdir()
    (folder / "1_label_studio.json").write_text(json.dumps(ls))
    (folder / "2_argilla.json").write_text(json.dumps(ar))
    write_csv(folder / "3_fix.csv", [["c0", "p", "A dog.", ""]])
    metrics = run_sft(SftLabelParams(min_rating=3), project, "cleaned.parquet")
    assert metrics["edited"] == 1 and metrics["dropped"]["low_rating"] == 1 and metrics["corrections"]["files"] == 3
    rows = {r["id"]: r for r in pq.read_table(project.rows).to_pylist()}
    assert rows["c0"]["messages"][-1]["content"] == "A dog." and "c4" not in rows
    history = pq.read_table(project.history).to_pylist()
    assert [(h["id"], h["round"], h["new_answer"]) for h in history if h["id"] == "c0"] == [
        ("c0", 1, "A canine."),
        ("c0", 3, "A dog."),
    ]


def test_mostly_unmatched_corrections_fail_before_writing(project, tmp_path):
    write_csv(tmp_path / "annotations" / "old.csv", [["x1", "p", "a", "5"], ["x2", "p", "b", "5"]])
    with pytest.raises(StageError, match=r"label\.max_unmatched_fraction"):
        run_sft(SftLabelParams(), project, "cleaned.parquet")
    assert not (tmp_path / project.rows).exists()


def test_an_edit_clean_would_refuse_is_a_counted_reject_and_the_answer_stays(project, tmp_path):
    """An edited answer meets clean's assistant filters, as every other answer did: one that is empty once
    normalised (a zero-width space) or longer than `clean.filters.assistant.max_chars` keeps the whole
    correction aside (`answer_filtered`, its rating too), and the conversation keeps its answer."""
    clean = ChatCleanParams.model_validate({"filters": {"assistant": {"min_chars": 1, "max_chars": 40}}})
    write_csv(
        tmp_path / "annotations" / "round1.csv",
        [
            ["c0", "p", "A dog " * 20, "1"],  # too long: refused, its low rating with it
            ["c1", "p", "\u200b", "5"],  # empty once normalised
            ["c2", "p", "A short fix.", "5"],  # fine
        ],
    )
    metrics = run_sft(SftLabelParams(min_rating=3), project, "cleaned.parquet", clean)
    assert metrics["corrections"]["rejected"]["answer_filtered"] == 2
    assert metrics["edited"] == 1 and metrics["rows_in"] == metrics["rows_out"]
    rejects = pq.read_table(project.rejects).to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["answer_filtered", "answer_filtered"]
    assert any("max_chars" in (r["detail"] or "") or "long" in (r["detail"] or "") for r in rejects), rejects
    rows = {r["id"]: r for r in pq.read_table(project.rows).to_pylist()}
    assert rows["c0"]["messages"] == CONVERSATIONS[0] and rows["c1"]["messages"] == CONVERSATIONS[1]
    assert rows["c2"]["messages"][-1]["content"] == "A short fix."
