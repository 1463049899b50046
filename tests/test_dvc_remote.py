"""A DVC remote round trip: push from one clone, pull into a fresh one, and the pipeline is up to date there."""

from __future__ import annotations

import yaml

from .dvc_helpers import copy_project, dvc, sh


def test_push_then_pull_into_a_fresh_clone(tmp_path):
    repo = copy_project(tmp_path / "repo")
    (repo / "data/raw/notes.csv").write_text("text,label\nfirst note,ham\nsecond note,spam\n")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["sources"] = {
        "notes": {"path": "data/raw/notes.csv", "format": "csv", "text_field": "text", "label_field": "label"}
    }
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(repo, "repro", "ingest")
    # What README "Share data: a DVC remote" tells: any folder, S3, GCS, Azure or SSH URL works the same way.
    dvc(repo, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    dvc(repo, "push", "--with-deps", "ingest")
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "ingest my notes"], repo)

    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "data/ingested/rows.parquet").exists()
    dvc(clone, "pull", "--with-deps", "ingest")
    assert (clone / "data/ingested/rows.parquet").read_bytes() == (repo / "data/ingested/rows.parquet").read_bytes()
    status = dvc(clone, "status", "--with-deps", "ingest").stdout
    assert "up to date" in status, status
    assert sh(["git", "status", "--porcelain"], clone).stdout == ""
