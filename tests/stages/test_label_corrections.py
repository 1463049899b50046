"""label stage, review rounds: corrections by policy, the label history and the `relabeled` metrics."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from ..refine_helpers import answer_label_studio
from .test_label import SOURCE_LABELS, TEXTS, clean_rows, imp, label


def review_export(tmp_path, name: str, answers: dict[str, str], email: str = "reviewer@example.test"):
    tasks = [{"data": {"row_id": i, "text": TEXTS[i]}} for i in answers]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(answer_label_studio(tasks, answers, email=email)))
    return path


def history(tmp_path):
    return pq.read_table(tmp_path / "out/history.parquet").to_pylist()


def test_override_changes_exactly_the_answered_rows_and_records_them(tmp_path):
    rows = clean_rows(TEXTS, SOURCE_LABELS)
    export = review_export(tmp_path, "r1", {"r1": "ham", "r2": "ham", "r3": "spam"})  # r1 corrected, r2/r3 confirmed
    metrics, out, _, _ = label(
        tmp_path,
        rows,
        {"r1.json": export},
        source_labels="annotator",
        imports=[imp("round1", "r1.json", "label_studio", join="id", key="row_id", round=1)],
    )
    assert out["r1"]["label"] == "ham"
    assert {i: out[i]["label"] for i in ("r2", "r3", "r4", "r6")} == {
        k: SOURCE_LABELS[k] for k in ("r2", "r3", "r4", "r6")
    }
    assert history(tmp_path) == [{"id": "r1", "old_label": "spam", "new_label": "ham", "source": "round1", "round": 1}]
    assert metrics["relabeled"] == {"rows": 1, "to": {"ham": 1, "spam": 0}, "to_unlabeled": 0}
    # the original label is still visible among the votes
    assert {v["import"] for v in out["r1"]["label_votes"]} == {"source", "round1"}


def test_vote_policy_makes_a_one_to_one_disagreement_a_tie(tmp_path):
    rows = clean_rows(TEXTS, SOURCE_LABELS)
    export = review_export(tmp_path, "r1", {"r1": "ham"})
    metrics, out, rejects, _ = label(
        tmp_path,
        rows,
        {"r1.json": export},
        source_labels="annotator",
        corrections="vote",
        imports=[imp("round1", "r1.json", "label_studio", join="id", key="row_id", round=1)],
    )
    assert "r1" not in out and [r["reason"] for r in rejects if r["id"] == "r1"] == ["tie"]
    assert history(tmp_path) == [{"id": "r1", "old_label": "spam", "new_label": None, "source": "round1", "round": 1}]
    assert metrics["relabeled"]["to_unlabeled"] == 1


def test_a_later_round_overrides_an_earlier_one_and_history_keeps_both(tmp_path):
    rows = clean_rows(TEXTS, SOURCE_LABELS)
    first = review_export(tmp_path, "a", {"r1": "ham", "r5": "spam"})
    # another reviewer: the same reviewer's later export would replace their earlier answers outright
    second = review_export(tmp_path, "b", {"r1": "spam"}, email="second@example.test")
    metrics, out, _, _ = label(
        tmp_path,
        rows,
        {"a.json": first, "b.json": second},
        source_labels="annotator",
        imports=[
            imp("round1", "a.json", "label_studio", join="id", key="row_id", round=1),
            imp("round2", "b.json", "label_studio", join="id", key="row_id", round=2),
        ],
    )
    assert out["r1"]["label"] == "spam" and out["r5"]["label"] == "spam"
    assert [(h["id"], h["old_label"], h["new_label"], h["round"]) for h in history(tmp_path)] == [
        ("r1", "spam", "ham", 1),
        ("r5", None, "spam", 1),
        ("r1", "ham", "spam", 2),
    ]
    # r1 ends where it started: only r5 counts as relabelled
    assert metrics["relabeled"] == {"rows": 1, "to": {"ham": 0, "spam": 1}, "to_unlabeled": 0}


def test_no_rounds_no_history(tmp_path):
    metrics, _, _, _ = label(tmp_path, clean_rows(TEXTS, SOURCE_LABELS), source_labels="annotator")
    assert history(tmp_path) == []
    assert metrics["relabeled"]["rows"] == 0


def test_round_must_be_positive():
    from schemas.label import LabelImport

    with pytest.raises(ValueError, match="round"):
        LabelImport(name="x", path="data/annotations/x.json", format="label_studio", round=0)


def test_an_export_saved_twice_is_one_vote_not_two(tmp_path):
    """Regression: with `corrections: vote` the same answer present twice (the export saved twice in the folder)
    won 2:1 against the row's label; one vote per annotator per row and round, the repeat counted."""
    rows = clean_rows(TEXTS, SOURCE_LABELS)
    export = review_export(tmp_path, "r1", {"r1": "ham"})
    metrics, out, rejects, _ = label(
        tmp_path,
        rows,
        {"r1.json": export, "r1-copy.json": export},
        source_labels="annotator",
        corrections="vote",
        imports=[imp("round1", "r1*.json", "label_studio", join="id", key="row_id", round=1)],
    )
    assert "r1" not in out and [r["reason"] for r in rejects if r["id"] == "r1"] == ["tie"]
    assert metrics["annotations"]["imports"]["round1"]["duplicates"] == 1
    assert metrics["annotations"]["imports"]["round1"]["votes"] == 1
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())


def test_an_annotation_repeated_in_a_task_is_one_vote(tmp_path):
    rows = clean_rows(TEXTS, SOURCE_LABELS)
    tasks = [{"data": {"row_id": "r1", "text": TEXTS["r1"]}}]
    data = answer_label_studio(tasks, {"r1": "ham"}, email="reviewer@example.test")
    data[0]["annotations"] = data[0]["annotations"] * 2  # the same annotator's identical annotation, twice
    path = tmp_path / "r1.json"
    path.write_text(json.dumps(data))
    metrics, out, rejects, _ = label(
        tmp_path,
        rows,
        {"r1.json": path},
        source_labels="annotator",
        corrections="vote",
        imports=[imp("round1", "r1.json", "label_studio", join="id", key="row_id", round=1)],
    )
    assert "r1" not in out and [r["reason"] for r in rejects if r["id"] == "r1"] == ["tie"]
    assert metrics["annotations"]["duplicates"] == 1
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())
