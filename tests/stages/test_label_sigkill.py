"""label stage under SIGKILL: its five outputs (rows, rejects, unmatched, history, metrics) switch together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ..conftest import REPO
from ..dvc_helpers import killed_after_first_rename
from ..refine_helpers import answer_label_studio
from .test_label import SOURCE_LABELS, TEXTS, clean_rows

OUTPUTS = (
    "data/labeled/rows.parquet",
    "data/labeled/rejects.parquet",
    "data/labeled/unmatched.parquet",
    "data/labeled/history.parquet",
    "metrics/details/label.json",
    "metrics/label.json",
)

# Runs the label stage as `python -m stages.label` would, but dies with SIGKILL after its first output is renamed.
KILLER = killed_after_first_rename("label")


def project(folder: Path, answers: dict[str, str]) -> Path:
    """A project whose label stage reads the sample rows and one review round answering `answers`."""
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["label"]["imports"] = [
        {
            "name": "round1",
            "path": "data/annotations/r1.json",
            "format": "label_studio",
            "join": "id",
            "key": "row_id",
            "round": 1,
        }
    ]
    data["label"]["corrections"] = "vote"
    (folder / "data/annotations").mkdir(parents=True, exist_ok=True)
    (folder / "data/cleaned").mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    pq.write_table(pa.Table.from_pylist(clean_rows(TEXTS, SOURCE_LABELS)), folder / "data/cleaned/rows.parquet")
    tasks = [{"data": {"row_id": i, "text": TEXTS[i]}} for i in answers]
    (folder / "data/annotations/r1.json").write_text(json.dumps(answer_label_studio(tasks, answers)))
    return folder


def label(folder: Path, *prefix: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, *(prefix or ("-m", "stages.label"))]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


def leftovers(folder: Path) -> list[str]:
    found = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    found += list((folder / ".refinery").glob("*.json"))
    return sorted(str(p.relative_to(folder)) for p in found)


def test_sigkill_after_the_first_rename_rolls_forward_to_all_new(tmp_path: Path):
    new_answers = {"r1": "ham", "r2": "ham", "r3": "ham"}
    expected = project(tmp_path / "expected", new_answers)  # the same new run, never killed
    assert label(expected).returncode == 0, label(expected).stderr

    work = project(tmp_path / "work", {"r1": "ham"})
    assert label(work).returncode == 0
    old = outputs(work)
    project(work, new_answers)
    killed = label(work, "-c", KILLER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    now = outputs(work)
    assert sum(now[n] != old[n] for n in OUTPUTS) == 1 and leftovers(work)  # one new output beside old ones

    (work / "params.yaml").write_text("label: [")  # not even YAML: the repair still runs first
    failed = label(work)
    assert failed.returncode == 1 and "(all new)" in failed.stderr, failed.stderr
    assert outputs(work) == outputs(expected) and leftovers(work) == []
    details = json.loads((work / "metrics/details/label.json").read_text())
    assert details["rows_in"] == details["rows_out"] + sum(details["dropped"].values())
