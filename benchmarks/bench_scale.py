"""The whole clean stage on one corpus with engine local and engine ray on 1 and 2 workers (Ray CPUs).

    pytest benchmarks/bench_scale.py --benchmark-only -s          # 1M rows
    BENCH_SCALE_ROWS=200000 pytest benchmarks/bench_scale.py --benchmark-only -s

Corpus: bench_clean.make_rows (real SMS/BANKING77 texts, a quarter verbatim repeats, a quarter near-duplicates).
Each run is a subprocess; the RSS of every process of its tree (the driver, and with Ray its raylet, GCS and
workers) is sampled every 100 ms, so the table gives the driver's peak and the largest Ray worker's peak.
Seconds include starting Ray (reported apart). The three runs must write the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench_clean import make_rows

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_SCALE_ROWS", "1000000"))
RESULTS: dict[str, dict[str, float]] = {}

SCRIPT = """
import json, sys, time
from schemas import load_params
from schemas.engine import EngineParams
from schemas.paths import CleanPaths
from stages import clean
from stages.lib.engine.session import ray_session
src, out, kind, cpus = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cfg = load_params("params.yaml").clean.model_copy(update={"num_proc": cpus})
paths = CleanPaths(rows=out + "/rows.parquet", rejects=out + "/rejects.parquet", metrics=out + "/m.json")
t0 = time.perf_counter()
startup = 0.0
if kind == "ray":
    ctx = ray_session(None, cpus)
    ctx.__enter__()
    startup = time.perf_counter() - t0
m = clean.run(cfg, paths, input_rows=src, engine=EngineParams(kind=kind, ray={"num_cpus": cpus}))
seconds = time.perf_counter() - t0
if kind == "ray":
    ctx.__exit__(None, None, None)
print(json.dumps({"seconds": seconds, "startup": startup, "rows_out": m["rows_out"]}))
"""


def run_stage(src: Path, out: Path, kind: str, cpus: int) -> dict[str, float]:
    import psutil

    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(src), str(out), kind, str(cpus)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(out / "stderr.log", "w"),  # noqa: SIM115 (closed with the process)
        text=True,
    )
    root = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, int]] = {}
    peak_tree = 0
    while proc.poll() is None:
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for p in procs:
            try:
                rss, name = p.memory_info().rss, " ".join(p.cmdline()[:1])
            except psutil.Error:
                continue
            total += rss
            if rss > peaks.get(p.pid, ("", 0))[1]:
                peaks[p.pid] = (name, rss)
        peak_tree = max(peak_tree, total)
        time.sleep(0.1)
    report = json.loads(proc.stdout.read().strip().splitlines()[-1])
    assert proc.returncode == 0
    phases = re.search(r"minhash ([\d.]+), dedup ([\d.]+), write ([\d.]+)", (out / "stderr.log").read_text())
    assert phases, "the clean stage logs its phase timings"
    workers = [rss for pid, (name, rss) in peaks.items() if name.startswith("ray::")]
    return {
        "seconds": report["seconds"],
        "startup": report["startup"],
        "rows_out": report["rows_out"],
        "pass1": float(phases[1]) - report["startup"],  # the stage's clock starts before the Ray start
        "dedup": float(phases[2]),
        "write": float(phases[3]),
        "driver_mb": peaks[proc.pid][1] / 2**20,
        "worker_mb": max(workers) / 2**20 if workers else 0.0,
        "tree_mb": peak_tree / 2**20,
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("scale") / "rows.parquet"
    make_rows(src, ROWS)
    return src


@pytest.mark.parametrize(("kind", "cpus"), [("local", 2), ("ray", 1), ("ray", 2)], ids=["local", "ray-1", "ray-2"])
def test_clean_engines(benchmark, corpus, tmp_path, kind, cpus):
    name = f"{kind}-{cpus}" if kind == "ray" else "local (num_proc 2)"
    out = tmp_path / "out"
    result = benchmark.pedantic(lambda: run_stage(corpus, out, kind, cpus), rounds=1, iterations=1)
    result["rows_per_s"] = ROWS / result["seconds"]
    result["us_per_row"] = 1e6 * result["seconds"] / ROWS
    result["bytes"] = (out / "rows.parquet").read_bytes() + (out / "rejects.parquet").read_bytes()
    RESULTS[name] = result
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "bytes"})
    if len(RESULTS) == 3:
        outputs = {r.pop("bytes") for r in RESULTS.values()}
        assert len(outputs) == 1, "the engines wrote different bytes"
        print(f"\nclean, {ROWS:,} rows (same output bytes from all three)")
        print(f"{'engine':<20}{'seconds':>8}{'Ray start':>10}{'pass 1':>8}{'dedup':>7}{'write':>7}{'rows/s':>9}"
              f"{'us/row':>8}{'driver peak':>13}{'worker peak':>13}{'tree peak':>11}")  # fmt: skip
        for n, r in RESULTS.items():
            print(f"{n:<20}{r['seconds']:>8.1f}{r['startup']:>10.1f}{r['pass1']:>8.1f}{r['dedup']:>7.1f}"
                  f"{r['write']:>7.1f}{r['rows_per_s']:>9,.0f}{r['us_per_row']:>8.1f}"
                  f"{r['driver_mb']:>10.0f} MB{r['worker_mb']:>10.0f} MB{r['tree_mb']:>8.0f} MB")  # fmt: skip
