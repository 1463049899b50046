"""base_model: scratch pre-training (deterministic, no validation/test text) and copying a pre-trained folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.model import ModelParams
from schemas.paths import BaseModelPaths
from stages.base_model import corpus, run
from stages.lib.core.errors import StageError
from tests.finetune_fixtures import tiny_model_params, write_split


def paths_in(tmp: Path, out: str = "base") -> BaseModelPaths:
    return BaseModelPaths(
        train=str(tmp / "split/train.parquet"),
        unlabeled=str(tmp / "split/unlabeled.parquet"),
        out=str(tmp / out),
        metrics=str(tmp / "m.json"),
    )


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("base")
    write_split(root / "split")
    return root


def test_scratch_model_is_byte_identical_across_runs(split):
    cfg = ModelParams.model_validate(tiny_model_params(steps=3))
    first = run(cfg, paths_in(split, "a"))
    second = run(cfg, paths_in(split, "b"))
    files = sorted(p.name for p in (split / "a").iterdir())
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(files)
    assert not [f for f in files if f.endswith((".bin", ".pt"))]
    for name in files:
        assert (split / "a" / name).read_bytes() == (split / "b" / name).read_bytes(), name
    assert first == second | {"train_seconds": first["train_seconds"], "seconds_per_step": first["seconds_per_step"]}
    assert first["source"] == "scratch" and first["total_params"] > 0


def test_corpus_is_train_and_unlabeled_text_only(split):
    texts = corpus(paths_in(split))
    assert len(texts) == 30 + 4
    assert not [t for t in texts if t.startswith(("validation", "test"))]
    metrics = run(ModelParams.model_validate(tiny_model_params(steps=2)), paths_in(split, "c"))
    assert metrics["corpus_texts"] == 34


def test_missing_split_fails_clearly(tmp_path):
    with pytest.raises(StageError, match="split stage"):
        run(ModelParams.model_validate(tiny_model_params(steps=1)), paths_in(tmp_path))
    assert not (tmp_path / "base").exists()


def test_pretrained_local_folder_copies_safetensors_only(split, tmp_path):
    run(ModelParams.model_validate(tiny_model_params(steps=1)), paths_in(split, "src"))
    (split / "src" / "pytorch_model.bin").write_bytes(b"pickle")  # must never be copied
    cfg = ModelParams(source="pretrained", name_or_path=str(split / "src"))
    metrics = run(cfg, paths_in(split, "copied"))
    copied = {p.name for p in (split / "copied").iterdir()}
    assert "model.safetensors" in copied and "tokenizer.json" in copied
    assert "pytorch_model.bin" not in copied
    assert metrics["source"] == "pretrained"


def test_pretrained_folder_without_safetensors_is_refused(split, tmp_path):
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text("{}")
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"pickle")
    cfg = ModelParams(source="pretrained", name_or_path=str(tmp_path / "pickled"))
    with pytest.raises(StageError, match="no safetensors weights"):
        run(cfg, paths_in(tmp_path))


def test_hub_model_needs_a_pinned_revision(tmp_path):
    cfg = ModelParams(source="pretrained", name_or_path="bert-base-uncased", revision=None)
    with pytest.raises(StageError, match=r"model\.revision is required"):
        run(cfg, paths_in(tmp_path))
