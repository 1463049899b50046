"""The refine loop end to end with real DVC: plant flips, audit, review, answer, re-import, repro.

Only label and what follows must rerun; the label history and metrics must
show exactly the answered corrections, and the audit's error estimate must fall.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from stages.lib.audit.noise import flip_labels

from .dvc_helpers import copy_project, dvc, sh
from .refine_helpers import write_answers

SMS = "data/sample/sms_spam_collection/SMSSpamCollection"


def splits_of(repo) -> dict[str, str]:
    return {
        i: name
        for name in ("train", "validation", "test")
        for i in pq.read_table(repo / f"data/split/{name}.parquet", columns=["id"]).column("id").to_pylist()
    }


@pytest.mark.slow
def test_one_review_round_corrects_the_answered_rows_and_reruns_label_onward(tmp_path):
    repo = copy_project(tmp_path)
    lines = (repo / SMS).read_text(encoding="utf-8").splitlines()[:1500]
    pairs = [line.split("\t", 1) for line in lines]
    noisy, _ = flip_labels([label for label, _ in pairs], 0.1, seed=0)
    (repo / SMS).write_text("".join(f"{lab}\t{text}\n" for lab, (_, text) in zip(noisy, pairs)), encoding="utf-8")
    truth_by_text = {}
    for label, text in pairs:
        truth_by_text.setdefault(text, label)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["split"]["method"] = "hash"  # the documented setting for rounds: corrected labels move no row
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "noisy sample"], repo)
    first = dvc(repo, "repro", "review").stdout
    assert all(f"Running stage '{s}'" in first for s in ("ingest", "clean", "label", "split", "audit", "review"))
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "round 0"], repo)
    before = json.loads((repo / "metrics/audit.json").read_text())
    split_before = splits_of(repo)

    # the annotator answers the issues queue with the true labels
    rows = pq.read_table(repo / "data/labeled/rows.parquet", columns=["id", "text_raw", "label"]).to_pylist()
    truth = {r["id"]: truth_by_text[r["text_raw"]] for r in rows if r["text_raw"] in truth_by_text}
    current = {r["id"]: r["label"] for r in rows}
    tasks = repo / "data/review/issues/label_studio.json"
    task_ids = {t["data"]["row_id"] for t in json.loads(tasks.read_text())}
    answered = write_answers(tasks, truth, repo / "data/annotations/round1/label_studio.json")
    assert answered > 0
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["label"]["imports"] = [
        {
            "name": "review1",
            "path": "data/annotations/round1",
            "format": "label_studio",
            "join": "id",
            "key": "row_id",
            "round": 1,
        }
    ]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    second = dvc(repo, "repro", "review").stdout
    ran = {s for s in ("ingest", "clean", "label", "split", "audit", "review") if f"Running stage '{s}'" in second}
    assert ran == {"label", "split", "audit", "review"}, second

    assert splits_of(repo) == split_before  # every row stayed in its split: the rounds compare on the same test
    history = pq.read_table(repo / "data/labeled/history.parquet").to_pylist()
    wrong = {i for i in task_ids if i in truth and truth[i] != current[i]}
    assert {h["id"] for h in history} == wrong  # exactly the answered rows whose label was wrong
    assert all(h["new_label"] == truth[h["id"]] and h["round"] == 1 and h["source"] == "review1" for h in history)
    label_metrics = json.loads((repo / "metrics/label.json").read_text())
    assert label_metrics["relabeled"]["rows"] == len(history)
    after = json.loads((repo / "metrics/audit.json").read_text())
    assert after["estimated_error_rate"] < before["estimated_error_rate"]
    diff = json.loads(dvc(repo, "metrics", "diff", "--json").stdout)
    assert diff["metrics/audit.json"]["estimated_error_rate"]["new"] == after["estimated_error_rate"]
    assert np.isclose(diff["metrics/label.json"]["relabeled.rows"]["new"], len(history))

    # monitor: no batch is a result; a batch dropped in data/incoming reruns monitor alone
    dvc(repo, "repro", "monitor")
    assert json.loads((repo / "metrics/monitor.json").read_text())["batch"] is False
    batch = [text + " blockchain wallet airdrop" for _, text in pairs[:200]]
    (repo / "data/incoming/batch1.txt").write_text("\n".join(batch) + "\n", encoding="utf-8")
    third = dvc(repo, "repro", "monitor").stdout
    assert [line for line in third.splitlines() if line.startswith("Running stage")] == ["Running stage 'monitor':"]
    monitor = json.loads((repo / "metrics/monitor.json").read_text())
    assert monitor["batch"] is True and monitor["rows_out"] == 200 and monitor["drift"] is True
    assert len(json.loads((repo / "data/monitor/review/label_studio.json").read_text())) == 50
