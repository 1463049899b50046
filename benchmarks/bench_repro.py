"""A no-op `dvc repro` on the whole graph, against DVC's own floor: a trivial graph with as many stages.

Run: pytest benchmarks/bench_repro.py --benchmark-only -s. Both projects live in temporary folders:

- `pipeline`: a `git clone` of this repository at HEAD (the real dvc.yaml, params.yaml and code). Its outputs
  are not in any cache here, so each stage's deps and outs that git does not hold are made as placeholders
  (a folder gets as many files as dvc.lock says it has), `dvc commit -f` records them, and `dvc repro` then
  finds every stage up to date: what DVC does on a no-op run of this graph (read dvc.yaml, resolve params,
  hash and stat every dep and out, compare with dvc.lock), without the data sizes (hashes are cached by
  mtime after the first run anyway).
- `floor`: the same number of stages, each `cmd: echo`, one dep (the previous stage's out) and one out.

The ratio pipeline / floor is printed; the aim is 1.5x or less. What makes the difference is what DVC checks
per stage beyond the floor's one dep and one out: code files and folders, data folders with their files, and
the params of each stage, all printed beside the ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS: dict[str, float] = {}


def sh(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env |= {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def dvc(cwd: Path, *args: str) -> str:
    exe = Path(sys.executable).with_name("dvc")
    return sh([str(exe) if exe.exists() else "dvc", *args], cwd)


def placeholder(path: Path, nfiles: int | None, is_dir: bool) -> None:
    """A stand-in for a dep or out that git does not hold: a file, or a folder of `nfiles` files."""
    if path.exists():
        return
    if is_dir:
        path.mkdir(parents=True)
        for i in range(nfiles or 1):
            (path / f"part-{i:04d}.bin").write_text(f"{path.name} {i}\n")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{path.name}\n")


def shape(root: Path) -> dict[str, int]:
    """Stages, deps, outs and files below them in `root`'s dvc.lock files (every pipeline folder's)."""
    lock = {
        f"{f.parent}:{name}": stage
        for f in root.rglob("dvc.lock")
        for name, stage in yaml.safe_load(f.read_text())["stages"].items()
    }
    entries = [e for s in lock.values() for e in (*s.get("deps", []), *s.get("outs", []))]
    return {
        "stages": len(lock),
        "deps": sum(len(s.get("deps", [])) for s in lock.values()),
        "outs": sum(len(s.get("outs", [])) for s in lock.values()),
        "files": sum(e.get("nfiles", 1) for e in entries),
        "params": sum(len(v) for s in lock.values() for v in s.get("params", {}).values()),
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """This repository at HEAD with placeholder data, committed to a fresh dvc.lock: every stage up to date."""
    root = tmp_path_factory.mktemp("repro") / "pipeline"
    head = sh(["git", "rev-parse", "HEAD"], REPO).strip()
    sh(["git", "clone", "-q", "--no-checkout", str(REPO), str(root)], REPO)
    sh(["git", "checkout", "-q", head], root)
    known = {}
    for lock_file in root.rglob("dvc.lock"):  # the classification graph's and sft/'s
        lock = yaml.safe_load(lock_file.read_text())["stages"]
        for s in lock.values():
            known |= {
                str((lock_file.parent / e["path"]).resolve()): e for e in (*s.get("deps", []), *s.get("outs", []))
            }
    for stage in _stages(root):
        for path in stage:
            entry = known.get(str(Path(path).resolve()), {})
            is_dir = str(entry.get("md5", "")).endswith(".dir") or (not entry and not Path(path).suffix)
            placeholder(Path(path), entry.get("nfiles"), is_dir)
    dvc(root, "commit", "-f", "-q")
    assert "up to date" in dvc(root, "status"), dvc(root, "status")
    dvc(root, "repro")  # the first run fills DVC's hash cache, as on a machine that ran the pipeline before
    return root


def _stages(root: Path) -> list[list[str]]:
    """Each stage's dep and out paths (absolute), as DVC resolves every dvc.yaml (foreach, ${} params)."""
    code = (
        "import json, sys\nfrom dvc.repo import Repo\n"
        "print(json.dumps([[o.fs_path for o in (*s.deps, *s.outs)] for s in Repo(sys.argv[1]).index.stages]))"
    )
    return json.loads(sh([sys.executable, "-c", code, str(root)], root))


def trivial(root: Path, stages: int, params: Path | None = None, deps: int = 0) -> Path:
    """`stages` stages, each echoing into one file from the previous stage's file; with `params`, each also
    declares a top-level section of that params file (in turn); with `deps`, that many small files in all are
    extra deps, spread over the stages."""
    root.mkdir()
    sh(["git", "init", "-q"], root)
    dvc(root, "init", "-q")
    sections = list(yaml.safe_load(params.read_text())) if params else []
    if params:
        (root / "params.yaml").write_text(params.read_text())
    graph = {}
    for i in range(stages):
        stage: dict = {
            "cmd": f"echo {i} > out{i}.txt",
            "deps": [f"out{i - 1}.txt"] if i else [],
            "outs": [f"out{i}.txt"],
        }
        for k in range(i, deps, stages):
            (root / "in").mkdir(exist_ok=True)
            (root / "in" / f"{k}.txt").write_text(f"{k}\n")
            stage["deps"].append(f"in/{k}.txt")
        if sections:
            stage["params"] = [sections[i % len(sections)]]
        graph[f"s{i:02d}"] = {k: v for k, v in stage.items() if v}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": graph}, sort_keys=False))
    dvc(root, "repro", "-q")
    dvc(root, "repro")  # the first no-op run, as for the pipeline
    return root


@pytest.fixture(scope="module")
def floor(tmp_path_factory, pipeline) -> Path:
    """DVC's floor: as many stages as the pipeline, one dep and one out each."""
    return trivial(tmp_path_factory.mktemp("repro") / "floor", shape(pipeline)["stages"])


@pytest.fixture(scope="module")
def floor_params(tmp_path_factory, pipeline) -> Path:
    """The floor, each stage also declaring a section of the project's params.yaml: what reading it costs."""
    return trivial(tmp_path_factory.mktemp("repro") / "floor_params", shape(pipeline)["stages"], REPO / "params.yaml")


@pytest.fixture(scope="module")
def floor_deps(tmp_path_factory, pipeline) -> Path:
    """The floor with as many file deps as the pipeline has: what checking them costs."""
    n = shape(pipeline)
    return trivial(tmp_path_factory.mktemp("repro") / "floor_deps", n["stages"], deps=n["deps"])


def no_op_repro(root: Path) -> str:
    out = dvc(root, "repro")
    assert "didn't change, skipping" in out or "up to date" in out.lower(), out
    return out


@pytest.mark.parametrize("graph", ["floor", "floor_params", "floor_deps", "pipeline"])
def test_bench_no_op_repro(benchmark, graph, request):
    root = request.getfixturevalue(graph)
    benchmark.pedantic(no_op_repro, args=(root,), rounds=5, iterations=1, warmup_rounds=1)
    RESULTS[graph] = benchmark.stats.stats.median
    benchmark.extra_info.update(shape(root))
    if graph == "pipeline" and "floor" in RESULTS:
        ratio = RESULTS["pipeline"] / RESULTS["floor"]
        benchmark.extra_info["ratio_to_floor"] = round(ratio, 2)
        parts = ", ".join(f"{g} {t:.2f} s ({t / RESULTS['floor']:.2f}x)" for g, t in RESULTS.items())
        print(f"\nno-op dvc repro: {parts}; aim <= 1.5x; pipeline {shape(root)}")


@pytest.mark.parametrize("graph", ["floor", "pipeline"])
def test_bench_no_op_status(benchmark, graph, request):
    """`dvc status`: the same check without repro's stage loop and locking."""
    benchmark.pedantic(dvc, args=(request.getfixturevalue(graph), "status", "-q"), rounds=3, iterations=1)
