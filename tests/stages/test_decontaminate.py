"""The decontaminate stage: contaminated train rows become counted rejects naming origin and n-gram."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.decontam import DecontamParams
from schemas.sft import DecontamPaths
from stages import decontaminate
from stages.lib.chat.conversation import MESSAGES_TYPE, conversation_text
from stages.lib.core.errors import StageError

QUESTION = "Which organelle of the cell produces most of the chemical energy that powers the biochemical reactions?"
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("messages", MESSAGES_TYPE), ("label", pa.string()),
                    ("source", pa.string()), ("split", pa.string())])  # fmt: skip


def row(i: int, question: str, answer: str, split: str) -> dict:
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"id": f"{i:04d}", "text": conversation_text(messages), "messages": messages, "label": None,
            "source": "t", "split": split}  # fmt: skip


def split_dir(tmp_path):
    folder = tmp_path / "split"
    folder.mkdir()
    train = [row(i, f"Question number {i} about a topic of its own?", f"Answer {i}.", "train") for i in range(5)]
    train.append(row(5, f"Quiz time. {QUESTION}", "The mitochondrion.", "train"))  # copies the benchmark
    topic = "Tell me about the first validation topic in plenty of detail please"
    train.append(row(6, f"{topic}.", "Fine.", "train"))
    tables = {
        "train": train,
        "validation": [row(7, f"{topic} now.", "Ok.", "validation")],
        "test": [row(8, "An unrelated test question with its own distinct wording entirely?", "Yes.", "test")],
        "unlabeled": [],
    }  # fmt: skip
    for name, rows in tables.items():
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / f"{name}.parquet")
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"question": QUESTION, "answer": "Mitochondria"}) + "\n")
    return folder, bench


def test_contaminated_rows_are_rejected_with_origin_and_ngram(tmp_path):
    folder, bench = split_dir(tmp_path)
    cfg = DecontamParams(ngram=8, benchmarks={"bio": {"path": str(bench), "format": "jsonl"}})
    paths = DecontamPaths(dir=str(tmp_path / "out"))
    metrics = decontaminate.run(cfg, paths, folder)
    assert metrics["rows_in"] == 7 and metrics["rows_out"] == 5 and metrics["dropped"]["contaminated"] == 2
    assert metrics["by_origin"] == {"validation": 1, "test": 0, "benchmark:bio": 1}
    rejects = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()
    detail = {r["id"]: r["detail"] for r in rejects}
    assert detail["0005"].startswith("benchmark:bio (ngram): which organelle of the cell produces most")
    assert detail["0006"].startswith("validation (ngram): tell me about the first validation topic")
    for name in ("validation", "test", "unlabeled"):
        assert (tmp_path / "out" / f"{name}.parquet").read_bytes() == (folder / f"{name}.parquet").read_bytes()
    kept = pq.read_table(tmp_path / "out" / "train.parquet").column("id").to_pylist()
    assert kept == ["0000", "0001", "0002", "0003", "0004"]


def test_a_missing_benchmark_names_the_params_key(tmp_path):
    folder, _ = split_dir(tmp_path)
    cfg = DecontamParams(benchmarks={"gone": {"path": str(tmp_path / "nope.jsonl"), "format": "jsonl"}})
    with pytest.raises(StageError, match=r"decontaminate\.benchmarks\.gone\.path"):
        decontaminate.run(cfg, DecontamPaths(dir=str(tmp_path / "out")), folder)
    assert not (tmp_path / "out").exists()


def test_ray_gives_the_same_bytes_as_local(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="engine: ray needs the `ray` extra (pip install -e '.[ray]')")
    from schemas.engine import EngineParams
    from stages.lib.decontam import on_ray
    from stages.lib.engine.session import runtime_env

    folder, bench = split_dir(tmp_path)
    cfg = DecontamParams(ngram=8, benchmarks={"bio": {"path": str(bench), "format": "jsonl"}})
    monkeypatch.setattr(on_ray, "_TEXTS_PER_TASK", 2)  # four tasks for seven rows
    local = decontaminate.run(cfg, DecontamPaths(dir=str(tmp_path / "local")), folder)
    ray.init(num_cpus=2, runtime_env=runtime_env(), include_dashboard=False, log_to_driver=False)
    try:
        on = decontaminate.run(cfg, DecontamPaths(dir=str(tmp_path / "ray")), folder, engine=EngineParams(kind="ray"))
    finally:
        ray.shutdown()
    assert on == local
    for name in ("train", "validation", "test", "unlabeled", "rejects"):
        assert (tmp_path / "ray" / f"{name}.parquet").read_bytes() == (
            tmp_path / "local" / f"{name}.parquet"
        ).read_bytes()
