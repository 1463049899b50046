"""One refine round of the SFT pipeline on a copy of the project (a real `dvc repro`): review exports the audit's
worst conversations and draft answers of a tiny trained model, a corrections file edits answers and rates one
conversation low, `dvc repro` reruns from label on (not ingest or clean), and `dvc metrics diff` shows it."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest
import yaml

from .dvc_helpers import dvc_bin, sh
from .test_dvc_sft import sft_repo
from .test_dvc_sft_training import tiny_settings


def ran(stdout: str) -> set[str]:
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow
def test_a_refine_round_reruns_from_label_on_and_shows_in_metrics_diff(tmp_path):
    repo = sft_repo(tmp_path)
    sft = repo / "sft"
    params = tiny_settings(yaml.safe_load((sft / "params.yaml").read_text()))
    params["train"]["max_steps"] = 2
    params["approaches"] = {"full": params["approaches"]["full"]}
    params["review"]["active"]["budget"] = 2
    params["audit"]["loss_outlier"]["k"] = 0.5  # a 2-step model: flag every row a little above its source's median
    params["audit"]["loss_outlier"]["min_rows"] = 3
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (sft / "data" / "pool" / "prompts.txt").write_text("What does 'cat' mean?\nIs this message spam? Hi mum\n")

    first = sh([dvc_bin(), "repro", "render"], sft)
    assert {"ingest", "clean", "label", "split", "render"} <= ran(first.stdout)
    assert (sft / "data/labeled/rows.parquet").read_bytes() == (sft / "data/cleaned/rows.parquet").read_bytes()
    review = sh([dvc_bin(), "repro", "review"], sft)
    assert {"base_model", "train@full", "audit", "review"} <= ran(review.stdout)
    flagged = set(pq.read_table(sft / "data/audit/issues.parquet", columns=["id"]).column("id").to_pylist())
    counts = json.loads((sft / "metrics/details/review.json").read_text())
    assert counts["queues"]["issues"] == min(len(flagged), params["review"]["issues"]["per_kind"]) >= 3, counts
    assert counts["queues"]["active"] == 2 and counts["pool"] == 2
    drafts = json.loads((sft / "data/review/active/label_studio.json").read_text())
    assert all(t["predictions"][0]["result"][0]["type"] == "textarea" for t in drafts)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "round 0"], repo)

    # the annotator's answers: review's tasks.csv, two answers edited and one conversation rated 1
    with open(sft / "data/review/issues/tasks.csv", newline="", encoding="utf-8") as f:
        tasks = list(csv.DictReader(f))
    tasks[0] |= {"answer": "An edited answer.", "rating": "4"}
    tasks[1] |= {"answer": "Another edited answer.", "rating": "5"}
    tasks[2] |= {"rating": "1"}
    with open(sft / "data/annotations/round1.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(tasks[0]))
        writer.writeheader()
        writer.writerows(tasks)
    second = sh([dvc_bin(), "repro", "render"], sft)
    assert {"label", "split", "decontaminate", "render"} <= ran(second.stdout)
    assert not {"ingest", "clean"} & ran(second.stdout)
    label = json.loads((sft / "metrics/details/label.json").read_text())
    assert label["edited"] == 2 and label["dropped"]["low_rating"] == 1
    assert label["rows_in"] == label["rows_out"] + label["dropped"]["low_rating"]

    diff = json.loads(sh([dvc_bin(), "metrics", "diff", "--json"], sft).stdout)
    assert diff["metrics/label.json"]["edited"] == {"old": 0, "new": 2, "diff": 2}
    assert diff["metrics/label.json"]["dropped.low_rating"]["new"] == 1
    assert diff["metrics/label.json"]["rows_out"]["diff"] == -1
    assert "metrics/split.json" in diff and "metrics/render.json" in diff
