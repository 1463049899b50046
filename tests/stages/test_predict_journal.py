"""predict's journal is keyed by its outputs: any path length, no lock files left, a killed pair repaired next run.

Each test runs `python -m stages.predict` in a project folder with compare's TF-IDF baseline (no torch model to
train), once normally and once dying with SIGKILL between two renames, then runs predict again with other
arguments and checks OUTPUT and its rejects are all old or all new.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from schemas import load_params
from stages.lib.model.tfidf import baseline_pipeline, save_baseline
from stages.lib.text.fingerprint import text_fingerprint

from ..conftest import REPO

# Runs predict as `python -m stages.predict ARGS` would, but dies with SIGKILL at a chosen point.
KILLER = """
import os, signal, sys, runpy
when, real_replace = sys.argv[1], os.replace
def replace(src, dst, *args, **kwargs):
    if when == "before_commit" and ".refinery" in str(dst) and "commit" in open(src).read():
        os.kill(os.getpid(), signal.SIGKILL)  # outputs written, journal about to say commit: nothing renamed
    real_replace(src, dst, *args, **kwargs)
    if when == "first_rename" and ".refinery" not in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)  # OUTPUT renamed, its rejects not yet
os.replace = replace
sys.argv = ["stages/predict.py", *sys.argv[2:]]
runpy.run_module("stages.predict", run_name="__main__")
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A project folder: the committed params.yaml and a fitted baseline at paths.compare.baseline_model."""
    work = tmp_path / "work"
    work.mkdir()
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["ingest"]["max_reject_fraction"] = 0.5  # each batch has a reject
    (work / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    params = load_params(work / "params.yaml")
    texts = ["win a free prize call now", "free cash prize text win", "see you at lunch", "are we meeting today"]
    text = text_fingerprint(params.clean.normalize.model_dump(), params.clean.pii.model_dump())
    pipeline = baseline_pipeline(params.compare.baseline).fit(texts, ["spam", "spam", "ham", "ham"])
    save_baseline(pipeline, params.compare.baseline, work / params.paths.compare.baseline_model, text)
    return work


def batch(path: Path, texts: list[str], bad: int) -> Path:
    """A JSON-lines batch: one row per text and `bad` lines that are not JSON (rejected as unreadable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts) + "not json\n" * bad)
    return path


def predict(work: Path, *args: str, killer: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    prefix = ["-c", KILLER, killer] if killer else ["-m", "stages.predict"]
    cmd = [sys.executable, *prefix, "--approach", "tfidf_logreg", "--format", "jsonl", *args]
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)


def pair(work: Path, name: str = "out") -> tuple[str, str]:
    return (work / f"{name}.jsonl").read_text(), (work / f"{name}.rejects.jsonl").read_text()


def leftovers(work: Path) -> list[str]:
    """Temporary outputs and journal or lock files a run left behind."""
    temps = [p.name for p in work.iterdir() if p.name.endswith(".tmp")]
    return sorted(temps + [p.name for p in (work / ".refinery").iterdir()])


def test_a_long_input_path_works_and_no_lock_file_is_left_per_command(work: Path):
    """Regression: the journal and lock were named after the whole command line ("File name too long"), and each
    distinct command left its own lock file in .refinery/."""
    deep = batch(work / ("d" * 200) / ("b" * 200 + ".jsonl"), ["WIN a FREE prize now", "lunch today?"], 0)
    done = predict(work, str(deep.relative_to(work)), "out.jsonl")
    assert done.returncode == 0, done.stderr
    assert [json.loads(r)["predicted"] for r in (work / "out.jsonl").read_text().splitlines()] == ["spam", "ham"]
    assert predict(work, batch(work / "in.jsonl", ["hello there"], 0).name, "other.jsonl").returncode == 0
    assert leftovers(work) == []


@pytest.mark.slow
def test_a_pair_killed_mid_publish_is_all_new_after_the_next_run_whatever_its_arguments(work: Path):
    """Regression: after SIGKILL between the two renames, OUTPUT was new and its rejects old until the very same
    command ran again; now any later predict finishes the renames (and a run killed before them changes nothing)."""
    assert (
        predict(work, batch(work / "a.jsonl", ["free prize", "lunch?", "call now"], 1).name, "out.jsonl").returncode
        == 0
    )
    old = pair(work)
    src = batch(work / "b.jsonl", ["see you at lunch", "win cash"], 1).name
    killed = predict(work, src, "out.jsonl", killer="before_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert pair(work) == old and leftovers(work)  # nothing renamed; its temporary files and journal remain
    other = predict(work, batch(work / "c.jsonl", ["hello"], 0).name, "other.jsonl")  # other input, other output
    assert other.returncode == 0, other.stderr
    assert "outputs unchanged (all old)" in other.stderr
    assert pair(work) == old and leftovers(work) == []

    killed = predict(work, src, "out.jsonl", killer="first_rename")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert pair(work)[0] != old[0] and pair(work)[1] == old[1]  # a mixed pair: new predictions, old rejects
    other = predict(work, batch(work / "c.jsonl", ["hello"], 0).name, "other.jsonl")
    assert other.returncode == 0, other.stderr
    assert "finished its 2 renames (all new)" in other.stderr
    assert leftovers(work) == []
    assert predict(work, src, "new.jsonl").returncode == 0  # the same batch, uninterrupted, for comparison
    assert pair(work) == pair(work, "new")
