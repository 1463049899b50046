"""Real `dvc repro` on a copy of the project: outputs, dvc.lock, and a no-op second run."""

from __future__ import annotations

import json

import yaml

from .dvc_helpers import copy_project, dvc


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
