"""engine: ray gives the same bytes as engine: local for ingest, clean and split, on a local Ray cluster.

The cluster (2 CPUs on 127.0.0.1) is started once for the module and stopped after it; the stages join it
(a Ray already initialised is used as it is). The sample case runs by default; the 200k-row corpus with
planted duplicates is marked slow.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.clean import CleanParams
from schemas.engine import EngineParams
from schemas.ingest import IngestParams
from schemas.paths import CleanPaths, IngestPaths, SplitPaths
from schemas.split import SplitParams
from stages import clean, ingest, split
from stages.lib.core.errors import StageError
from stages.lib.engine import clean as clean_on_ray
from stages.lib.engine.session import runtime_env
from stages.lib.text import near_dup

from ..conftest import REPO

ray = pytest.importorskip("ray", reason="engine: ray needs the `ray` extra (pip install -e '.[ray]')")

LOCAL, RAY = EngineParams(kind="local"), EngineParams(kind="ray")
SMS = REPO / "data/sample/sms_spam_collection/SMSSpamCollection"


@pytest.fixture(scope="module")
def cluster():
    options = {"include_dashboard": False, "log_to_driver": False, "_node_ip_address": "127.0.0.1"}
    ray.init(num_cpus=2, runtime_env=runtime_env(), **options)
    yield
    ray.shutdown()


def same_bytes(a: Path, b: Path) -> None:
    for name in sorted(p.name for p in a.iterdir()):
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between the engines"


def run_ingest(root: Path, engine: EngineParams) -> tuple[dict, Path]:
    out = root / engine.kind
    cfg = IngestParams(
        sources={
            "sms": {"path": "sms.tsv", "format": "tsv", "header": False, "columns": ["label", "text"],
                    "quoting": "none", "text_field": "text", "label_field": "label"},
            "notes": {"path": "notes/*.jsonl", "format": "jsonl", "text_field": "text", "label_field": "label"},
        }
    )  # fmt: skip
    paths = IngestPaths(rows=str(out / "rows.parquet"), rejects=str(out / "rejects.parquet"), metrics="unused")
    return ingest.run(cfg, paths, root=root, engine=engine), out


def run_clean(src: Path, out: Path, engine: EngineParams, **cfg) -> dict:
    paths = CleanPaths(rows=str(out / "rows.parquet"), rejects=str(out / "rejects.parquet"), metrics="unused")
    return clean.run(CleanParams.model_validate({"num_proc": 1, **cfg}), paths, src, engine=engine)


def test_sample_gives_the_same_bytes_on_both_engines(cluster, tmp_path):
    # ingest: the first 2,000 SMS plus three small JSONL files (read by different workers), one bad line
    root = tmp_path / "repo"
    (root / "notes").mkdir(parents=True)
    (root / "sms.tsv").write_text("\n".join(SMS.read_text(encoding="utf-8").splitlines()[:2000]) + "\n")
    for k in range(3):
        lines = [f'{{"text": "note {k}-{i} about the meeting at {i % 5} pm", "label": "ham"}}' for i in range(20)]
        (root / "notes" / f"part{k}.jsonl").write_text("\n".join([*lines, "{broken"]) + "\n")
    ingested = {engine.kind: run_ingest(root, engine) for engine in (LOCAL, RAY)}
    assert ingested["local"][0] == ingested["ray"][0]
    assert ingested["local"][0]["dropped"]["malformed_json"] == 3
    same_bytes(ingested["local"][1], ingested["ray"][1])

    # clean in batches of 500 (several batches, so the LSH groupby must find pairs across them)
    src = ingested["local"][1] / "rows.parquet"
    cleaned = {e.kind: run_clean(src, tmp_path / "clean" / e.kind, e, batch_size=500) for e in (LOCAL, RAY)}
    assert cleaned["local"] == cleaned["ray"]
    assert cleaned["local"]["dropped"]["exact_dup"] > 50 and cleaned["local"]["dropped"]["near_dup"] > 10
    same_bytes(tmp_path / "clean/local", tmp_path / "clean/ray")

    # split, with a near threshold low enough for near leaks to exist
    metrics = {}
    for engine in (LOCAL, RAY):
        paths = SplitPaths(dir=str(tmp_path / "split" / engine.kind), metrics="unused")
        cfg = SplitParams(near_threshold=0.5, group_by=None, on_leakage="drop_from_test")
        metrics[engine.kind] = split.run(cfg, paths, tmp_path / "clean/local/rows.parquet", engine=engine)
    assert metrics["local"] == metrics["ray"]
    assert metrics["local"]["leakage"]["near"] > 0
    same_bytes(tmp_path / "split/local", tmp_path / "split/ray")


def test_band_key_groupby_finds_the_local_pairs(cluster):
    keys = np.random.default_rng(0).integers(0, 500, size=(2_000, 4)).astype(np.uint64)
    assert np.array_equal(clean_on_ray.candidate_pairs(keys), near_dup.candidate_pairs(keys))


def test_unsorted_or_empty_input_fails_as_locally(cluster, tmp_path):
    schema = pa.schema([(k, pa.string()) for k in ("id", "text", "label", "source", "location")])
    rows = [{"id": i, "text": f"message {i}", "label": None, "source": "s", "location": None} for i in "bac"]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "unsorted.parquet")
    pq.write_table(schema.empty_table(), tmp_path / "empty.parquet")
    for engine in (LOCAL, RAY):
        with pytest.raises(StageError, match="is not sorted by unique id"):
            run_clean(tmp_path / "unsorted.parquet", tmp_path / engine.kind, engine)
        with pytest.raises(StageError, match="has no rows"):
            run_clean(tmp_path / "empty.parquet", tmp_path / engine.kind, engine)


def planted_corpus(path: Path, n: int, seed: int = 0) -> None:
    """n rows from the SMS texts: a fifth verbatim copies, a fifth near-duplicates (one or two words changed),
    a few too short to keep, the rest made unique; ids in random order of the texts, sorted like ingest's."""
    rng = random.Random(seed)
    texts = [line.split("\t", 1)[1] for line in SMS.read_text(encoding="utf-8").splitlines() if "\t" in line]
    vocab = sorted({w for t in texts for w in t.split()})
    rows = []
    for i in range(n):
        base, kind = rng.choice(texts), rng.random()
        if kind < 0.2:
            text = base
        elif kind < 0.4:
            words = base.split()
            for _ in range(rng.randint(1, 2)):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            text = " ".join(words)
        elif kind < 0.41:
            text = ":)"
        else:
            text = f"{base} #{i}"
        rows.append({"id": f"{rng.getrandbits(64):016x}", "text": text, "label": rng.choice(("ham", "spam", None)),
                     "source": "planted", "location": f"row {i}"})  # fmt: skip
    rows.sort(key=lambda r: r["id"])
    schema = pa.schema([(k, pa.string()) for k in ("id", "text", "label", "source", "location")])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.mark.slow
def test_200k_planted_corpus_gives_the_same_bytes(cluster, tmp_path):
    src = tmp_path / "rows.parquet"
    planted_corpus(src, 200_000)
    local = run_clean(src, tmp_path / "local", LOCAL, filters={"min_alpha_ratio": 0.25})
    on_ray = run_clean(src, tmp_path / "ray", RAY, filters={"min_alpha_ratio": 0.25})
    assert local == on_ray
    assert local["dropped"]["exact_dup"] > 10_000 and local["dropped"]["near_dup"] > 10_000
    assert local["dropped"]["low_alpha_ratio"] > 1_000 and local["label_conflicts"] > 1_000
    same_bytes(tmp_path / "local", tmp_path / "ray")
    shutil.rmtree(tmp_path)
