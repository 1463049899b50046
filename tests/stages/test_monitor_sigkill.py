"""monitor stage under SIGKILL: its outputs (the scored/rejects/review folder, plot, metrics) switch together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from schemas.audit import AuditParams
from schemas.paths import AuditPaths
from stages import audit

from ..conftest import REPO
from ..dvc_helpers import killed_after_first_rename
from .test_audit import sms_rows, write_split

OUTPUTS = ("plots/monitor.json", "metrics/details/monitor.json", "metrics/monitor.json")

# Runs the monitor stage as `python -m stages.monitor` would, but dies with SIGKILL after its first output is renamed.
KILLER = killed_after_first_rename("monitor")


def project(folder: Path) -> Path:
    """A project with split rows and the audit's model, which monitor compares a batch with."""
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["monitor"] |= {"permutations": 20, "alpha": 0.1, "review_budget": 5}
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    split = write_split(folder / "data/split", sms_rows(300))
    a = AuditPaths(
        issues=str(folder / "data/audit/issues.parquet"),
        details=str(folder / "data/audit/details.json"),
        metrics=str(folder / "metrics/audit.json"),
        plot=str(folder / "plots/audit_issues.json"),
        model=str(folder / "models/audit"),
    )
    audit.run(AuditParams(), a, split)
    return folder


def batch(folder: Path, lines: list[str]) -> None:
    (folder / "data/incoming").mkdir(parents=True, exist_ok=True)
    (folder / "data/incoming/batch.txt").write_text("".join(f"{t}\n" for t in lines), encoding="utf-8")


def monitor(folder: Path, *prefix: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, *(prefix or ("-m", "stages.monitor"))]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def outputs(folder: Path) -> dict[str, bytes]:
    files = {name: (folder / name).read_bytes() for name in OUTPUTS}
    files |= {str(p.relative_to(folder)): p.read_bytes() for p in (folder / "data/monitor").rglob("*") if p.is_file()}
    return files


def leftovers(folder: Path) -> list[str]:
    found = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    found += list((folder / ".refinery").glob("*.json"))
    return sorted(str(p.relative_to(folder)) for p in found)


def test_sigkill_after_the_first_rename_rolls_forward_to_all_new(tmp_path: Path):
    texts = [r["text"] for r in sms_rows(400)[300:]]
    expected = project(tmp_path / "expected")  # the same new run, never killed
    batch(expected, texts)
    done = monitor(expected)
    assert done.returncode == 0, done.stderr

    work = project(tmp_path / "work")
    assert monitor(work).returncode == 0  # no batch yet
    old = outputs(work)
    batch(work, texts)
    killed = monitor(work, "-c", KILLER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    now = outputs(work)
    assert now != old and any(now[n] == old[n] for n in OUTPUTS) and leftovers(work)  # a mix of new and old

    (work / "params.yaml").write_text("monitor: [")  # not even YAML: the repair still runs first
    failed = monitor(work)
    assert failed.returncode == 1 and "(all new)" in failed.stderr, failed.stderr
    assert outputs(work) == outputs(expected) and leftovers(work) == []
    details = json.loads((work / "metrics/details/monitor.json").read_text())
    assert details["batch"] and details["rows_in"] == details["rows_out"] + sum(details["dropped"].values())
