"""Real `dvc repro` on a copy of the project: outputs, dvc.lock, and a no-op second run."""

from __future__ import annotations

import json

import yaml

from .dvc_helpers import copy_project, dvc, sh


def test_dvc_repro_ingest_then_nothing_to_do(tmp_path):
    repo = copy_project(tmp_path)
    first = dvc(repo, "repro", "ingest")
    assert "Running stage 'ingest'" in first.stdout
    metrics = json.loads((repo / "metrics/ingest.json").read_text())
    assert metrics["rows_in"] == metrics["rows_out"] == 5574
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    outs = {o["path"] for o in lock["stages"]["ingest"]["outs"]}
    assert {"data/ingested/rows.parquet", "data/ingested/rejects.parquet"} <= outs
    assert lock["stages"]["ingest"]["params"]["params.yaml"]["ingest"]["max_reject_fraction"] == 0.05

    second = dvc(repo, "repro", "ingest")
    assert "Running stage" not in second.stdout
    assert "didn't change, skipping" in second.stdout

    shown = dvc(repo, "metrics", "show", "--json")
    assert "metrics/ingest.json" in shown.stdout


def test_changing_ingest_params_reruns_ingest(tmp_path):
    repo = copy_project(tmp_path)
    dvc(repo, "repro", "ingest")
    params = (repo / "params.yaml").read_text().replace("max_reject_fraction: 0.05", "max_reject_fraction: 0.1")
    (repo / "params.yaml").write_text(params)
    status = dvc(repo, "status", "ingest")
    assert "params.yaml" in status.stdout and "modified:" in status.stdout
    assert status.stdout.splitlines()[0] == "ingest:"


def test_dvc_exp_run_and_metrics_diff_on_a_params_change(tmp_path):
    """The reviewer's loop: an experiment with one param changed, then `dvc exp show` and `dvc metrics diff`."""
    repo = copy_project(tmp_path)
    dvc(repo, "repro", "clean")
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "--allow-empty", "-qm", "baseline"], repo)  # the committed demo outputs may already match
    base = json.loads((repo / "metrics/clean.json").read_text())  # the headline: rows_in, rows_out

    # Verification at 0.95 keeps only closer pairs: fewer rows go as near duplicates.
    dvc(repo, "exp", "run", "-n", "strict-dedup", "-S", "clean.near_dup.threshold=0.95", "clean")
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    assert "strict-dedup" in json.dumps(shown)
    diff = json.loads(dvc(repo, "metrics", "diff", "HEAD", "strict-dedup", "--json").stdout)
    kept = diff["metrics/clean.json"]["rows_out"]
    assert kept["old"] == base["rows_out"]
    assert kept["new"] > kept["old"]  # fewer rows dropped as near duplicates
    assert set(diff) == {"metrics/clean.json"}  # the details file is not a metric; nothing else moved
    # the experiment did not touch the workspace's params.yaml nor rewrite dvc.yaml
    assert "threshold: 0.8" in (repo / "params.yaml").read_text()
    assert "foreach" in (repo / "dvc.yaml").read_text()
