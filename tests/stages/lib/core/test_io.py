"""stages/lib/core/io.py: a stage's outputs switch together, even when the process is killed with SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from stages.lib.core.errors import StageError
from stages.lib.core.io import Transaction, atomic_path, recover, stage_outputs, write_json, write_parquets, write_table

from ....conftest import REPO

OUTPUTS = (
    "data/ingested/rows.parquet",
    "data/ingested/rejects.parquet",
    "metrics/details/ingest.json",
    "metrics/ingest.json",
)

# Runs the ingest stage as `python -m stages.ingest` would, but dies with SIGKILL at a chosen point.
KILLER = """
import os, signal, sys, runpy
import pyarrow.parquet as pq
when, real_replace, real_write = sys.argv[1], os.replace, pq.write_table
calls = {"write": 0}
def replace(src, dst, *args, **kwargs):
    real_replace(src, dst, *args, **kwargs)
    if when == "first_rename" and ".refinery" not in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)
def write_table(*args, **kwargs):
    real_write(*args, **kwargs)
    calls["write"] += 1
    if when == "second_write" and calls["write"] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace, pq.write_table = replace, write_table
sys.argv = ["stages/ingest.py"]
runpy.run_module("stages.ingest", run_name="__main__")
"""


def project(folder: Path, params: dict, texts: list[str]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (folder / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "raw" / "texts.txt").write_text("".join(f"{t}\n" for t in texts))
    return folder


def ingest(folder: Path, *prefix: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, *(prefix or ("-m", "stages.ingest"))]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders, and journals, anywhere in the project."""
    found = [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".clean-parts-")]
    found += list((folder / ".refinery").glob("*.json"))
    return sorted(str(p.relative_to(folder)) for p in found)


@pytest.fixture(scope="module")
def params() -> dict:
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["ingest"]["sources"] = {"t": {"path": "data/raw/texts.txt", "format": "text"}}
    data["ingest"]["max_reject_fraction"] = 1.0
    return data


def test_sigkill_after_first_rename_rolls_forward(tmp_path: Path, params: dict):
    old_texts, new_texts = ["one", "two", "", "three"], ["one", "two", "", "three", "four", "five"]
    expected_new = tmp_path / "expected"  # the same new run, never killed
    assert ingest(project(expected_new, params, new_texts)).returncode == 0

    work = project(tmp_path / "work", params, old_texts)
    assert ingest(work).returncode == 0
    old = outputs(work)
    project(work, params, new_texts)
    killed = ingest(work, "-c", KILLER, "first_rename")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    now = outputs(work)
    assert sum(now[n] != old[n] for n in OUTPUTS) == 1  # the kill left one new output beside two old ones
    assert leftovers(work)  # and its temporary files and journal

    # the next start repairs before anything else, even when it then fails on bad params
    bad = {**params, "ingset": {}}
    (work / "params.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    failed = ingest(work)
    assert failed.returncode == 1 and "ingset: unknown key" in failed.stderr
    assert "finished its 4 renames (all new)" in failed.stderr
    assert outputs(work) == outputs(expected_new)
    assert leftovers(work) == []


def test_sigkill_before_publishing_rolls_back(tmp_path: Path, params: dict):
    work = project(tmp_path / "work", params, ["one", "two"])
    assert ingest(work).returncode == 0
    old = outputs(work)
    project(work, params, ["one", "two", "three"])
    killed = ingest(work, "-c", KILLER, "second_write")  # rows and rejects written, nothing renamed yet
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert outputs(work) == old and leftovers(work)
    shutil.copy(work / "params.yaml", tmp_path / "good.yaml")
    (work / "params.yaml").write_text("ingest: [")  # not even YAML: the repair still runs first
    failed = ingest(work)
    assert failed.returncode == 1 and "outputs unchanged (all old)" in failed.stderr
    assert outputs(work) == old and leftovers(work) == []
    shutil.copy(tmp_path / "good.yaml", work / "params.yaml")
    assert ingest(work).returncode == 0 and outputs(work) != old


def test_failure_inside_a_stage_replaces_nothing(tmp_path: Path):
    (tmp_path / "a.json").write_text("old a")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f").write_text("old f")
    with pytest.raises(RuntimeError), stage_outputs("demo", tmp_path / ".refinery"):
        write_json({"a": 1}, tmp_path / "a.json")
        with atomic_path(tmp_path / "dir") as folder:
            folder.mkdir()
            (folder / "f").write_text("new f")
        raise RuntimeError("a later step fails")
    assert (tmp_path / "a.json").read_text() == "old a" and (tmp_path / "dir" / "f").read_text() == "old f"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".refinery", "a.json", "dir"]
    assert list((tmp_path / ".refinery").glob("*.json")) == []


def test_folder_outputs_switch_and_recovery_is_repeatable(tmp_path: Path):
    """A journal in `commit` state is finished by recover(), and a second recover() finds nothing to do."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f").write_text("old")
    (tmp_path / ".refinery").mkdir()
    journal = tmp_path / ".refinery" / "demo.json"
    tx = Transaction(journal)
    with tx.stage(tmp_path / "dir") as folder:
        folder.mkdir()
        (folder / "f").write_text("new")
    with tx.stage(tmp_path / "t.parquet") as path:
        write_table(pa.table({"x": [1]}), path)
    tx._save("commit")  # killed right after the journal was written: nothing renamed
    assert (tmp_path / "dir" / "f").read_text() == "old" and not (tmp_path / "t.parquet").exists()
    assert "finished its 2 renames" in recover(journal)
    assert (tmp_path / "dir" / "f").read_text() == "new" and (tmp_path / "t.parquet").is_file()
    assert recover(journal) is None and leftovers(tmp_path) == []


def test_output_through_a_symlinked_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A relative output path (as params give) whose folder links out of the repository is refused unwritten."""
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (repo / "data").symlink_to(outside, target_is_directory=True)
    monkeypatch.chdir(repo)
    with pytest.raises(StageError, match=r"output data/rows.parquet: data .* is outside the repository .*real folder"):
        write_parquets({"data/rows.parquet": pa.table({"x": [1]})})
    assert list(outside.iterdir()) == []
