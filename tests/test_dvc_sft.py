"""Real `dvc repro` of the SFT pipeline (sft/dvc.yaml, run from sft/) on a copy of the project."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
import yaml

from .dvc_helpers import REPO, copy_project, dvc_bin, sh

FIXTURES = REPO / "tests" / "fixtures" / "sft"


def sft_repo(tmp_path):
    """The project with the SFT fixture as its only source and the fixture benchmark listed."""
    repo = copy_project(tmp_path)
    sft = repo / "sft"
    shutil.rmtree(sft / "data" / "sample", ignore_errors=True)
    (sft / "data" / "sample").mkdir(parents=True)
    shutil.copy(FIXTURES / "sample" / "conversations.jsonl", sft / "data" / "sample" / "fixture.jsonl")
    shutil.copy(FIXTURES / "benchmarks" / "mini_eval.jsonl", sft / "data" / "benchmarks" / "mini_eval.jsonl")
    params = yaml.safe_load((sft / "params.yaml").read_text())
    source = next(iter(params["ingest"]["sources"].values()))
    fixture = {**source, "path": "data/sample/fixture.jsonl", "format": "messages", "keep_fields": []}
    params["ingest"]["sources"] = {"fixture": fixture}
    params["decontaminate"]["benchmarks"] = {
        "mini_eval": {"path": "data/benchmarks/mini_eval.jsonl", "format": "jsonl", "fields": ["question", "answer"]}
    }
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "fixture"], repo)
    return repo


@pytest.mark.slow
def test_sft_pipeline_runs_from_its_folder_and_is_a_no_op_the_second_time(tmp_path):
    repo = sft_repo(tmp_path)
    sft = repo / "sft"
    first = sh([dvc_bin(), "repro", "decontaminate"], sft)
    for stage in ("ingest", "clean", "split", "decontaminate"):
        assert f"Running stage '{stage}'" in first.stdout

    ingest = json.loads((sft / "metrics/details/ingest.json").read_text())
    assert ingest["rows_in"] == 49 and ingest["rows_out"] == 43
    assert ingest["rows_in"] == ingest["rows_out"] + sum(ingest["dropped"].values())
    clean = json.loads((sft / "metrics/details/clean.json").read_text())
    assert clean["rows_in"] == 43 and clean["dropped"]["exact_dup"] == 1 and clean["dropped"]["near_dup"] == 1
    assert clean["prompt_conflicts"]["clusters"] == 1
    split = json.loads((sft / "metrics/details/split.json").read_text())
    assert split["rows_in"] == clean["rows_out"] == split["rows_out"] + sum(split["dropped"].values())
    decontam = json.loads((sft / "metrics/details/decontaminate.json").read_text())
    assert decontam["rows_in"] == split["splits"]["train"]["rows"]
    assert decontam["rows_in"] == decontam["rows_out"] + decontam["dropped"]["contaminated"]
    # the benchmark's first answer is a verbatim copy of one sample gloss; it lands in train or in an eval split
    planted = json.loads((FIXTURES / "benchmarks" / "mini_eval.jsonl").read_text().splitlines()[0])["answer"]
    train_texts = pq.read_table(sft / "data/split/train.parquet").column("text").to_pylist()
    in_train = any(planted in t for t in train_texts)
    assert decontam["by_origin"]["benchmark:mini_eval"] == int(in_train)
    rejects = pq.read_table(sft / "data/decontaminated/rejects.parquet").to_pylist()
    assert all(r["reason"] == "contaminated" for r in rejects)
    for name in ("train", "validation", "test", "unlabeled"):
        assert (sft / "data/decontaminated" / f"{name}.parquet").is_file()
    assert (sft / "data/decontaminated/validation.parquet").read_bytes() == (
        sft / "data/split/validation.parquet"
    ).read_bytes()

    lock = yaml.safe_load((sft / "dvc.lock").read_text())
    assert "params.yaml" in lock["stages"]["ingest"]["params"]
    outputs = [*(sft / "metrics").rglob("*.json"), *(sft / "data").rglob("*.parquet")]
    before = {p: p.read_bytes() for p in sorted(outputs) if "sample" not in p.parts}
    second = sh([dvc_bin(), "repro", "decontaminate"], sft)
    assert "Running stage" not in second.stdout
    forced = sh([dvc_bin(), "repro", "-f", "decontaminate"], sft)
    assert "Running stage 'ingest'" in forced.stdout
    assert {p: p.read_bytes() for p in before} == before  # byte-identical data and metrics on a forced rerun
    assert "up to date" in sh([dvc_bin(), "status", "decontaminate"], sft).stdout
    # the SFT pipeline locks its own stages in sft/dvc.lock; the classification dvc.lock is untouched
    assert sh(["git", "status", "--porcelain", "dvc.lock"], repo).stdout == ""


def test_changing_a_decontaminate_param_reruns_only_decontaminate(tmp_path):
    repo = sft_repo(tmp_path)
    sft = repo / "sft"
    sh([dvc_bin(), "repro", "decontaminate"], sft)
    text = (sft / "params.yaml").read_text().replace("ngram: 13", "ngram: 8")
    (sft / "params.yaml").write_text(text)
    status = sh([dvc_bin(), "status", "decontaminate"], sft).stdout
    assert "decontaminate:" in status and "split:" not in status and "ingest:" not in status
