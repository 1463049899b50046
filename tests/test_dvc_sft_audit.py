"""sft/dvc.yaml's audit: `dvc repro audit` on a copy of the project with the SFT fixture and tiny models writes
the issues file to the contract review reads, the headline problem_share, and is a no-op the second time."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from stages.lib.audit.sft import ISSUE_SCHEMA

from .dvc_helpers import dvc_bin, sh
from .test_dvc_sft import sft_repo
from .test_dvc_sft_training import tiny_settings


@pytest.mark.slow
def test_sft_audit_runs_after_train_and_is_a_no_op_the_second_time(tmp_path):
    sft = sft_repo(tmp_path) / "sft"
    params = tiny_settings(yaml.safe_load((sft / "params.yaml").read_text()))
    (sft / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    first = sh([dvc_bin(), "repro", "audit"], sft)
    for stage in ("render", "base_model", "train@full", "audit"):
        assert f"Running stage '{stage}'" in first.stdout
    assert "train@adapter" not in first.stdout  # audit.approach: full needs only that model
    issues = pq.read_table(sft / "data/audit/issues.parquet")
    assert issues.schema.equals(ISSUE_SCHEMA)
    headline = json.loads((sft / "metrics/audit.json").read_text())
    details = json.loads((sft / "metrics/details/audit.json").read_text())
    assert set(headline) == {"problem_share"} and 0 <= headline["problem_share"] <= 1
    assert details["problem_rows"] == len(set(issues.column("id").to_pylist()))
    assert sum(details["issues"].values()) == issues.num_rows
    assert "Running stage" not in sh([dvc_bin(), "repro", "audit"], sft).stdout
    # another approach's settings do not touch the audit; its own approach's kind is a declared param
    lock = yaml.safe_load((sft / "dvc.lock").read_text())["stages"]["audit"]
    assert "approaches.full.kind" in lock["params"]["params.yaml"]
