"""base_model: scratch pre-training (deterministic, no validation/test text) and copying a pre-trained folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.model import ModelParams
from schemas.paths import BaseModelPaths
from stages.base_model import run
from stages.lib.core.errors import StageError
from stages.lib.model.pretrain import pretraining_corpus
from tests.finetune_fixtures import tiny_model_params, write_split


def paths_in(tmp: Path, out: str = "base") -> BaseModelPaths:
    return BaseModelPaths(
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
    first = run(cfg, paths_in(split, "a"), str(split / "split"))
    second = run(cfg, paths_in(split, "b"), str(split / "split"))
    files = sorted(p.name for p in (split / "a").iterdir())
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(files)
    assert not [f for f in files if f.endswith((".bin", ".pt"))]
    for name in files:
        assert (split / "a" / name).read_bytes() == (split / "b" / name).read_bytes(), name
    assert first == second | {"train_seconds": first["train_seconds"], "seconds_per_step": first["seconds_per_step"]}
    assert first["source"] == "scratch" and first["total_params"] > 0


def test_corpus_is_train_and_unlabeled_text_only(split):
    texts = pretraining_corpus(str(split / "split"))
    assert len(texts) == 30 + 4
    assert not [t for t in texts if t.startswith(("validation", "test"))]
    metrics = run(ModelParams.model_validate(tiny_model_params(steps=2)), paths_in(split, "c"), str(split / "split"))
    assert metrics["corpus_texts"] == 34


def test_missing_split_fails_clearly(tmp_path):
    with pytest.raises(StageError, match="split stage"):
        run(ModelParams.model_validate(tiny_model_params(steps=1)), paths_in(tmp_path), str(tmp_path / "split"))
    assert not (tmp_path / "base").exists()


def test_pretrained_local_folder_copies_safetensors_only(split, tmp_path):
    run(ModelParams.model_validate(tiny_model_params(steps=1)), paths_in(split, "src"), str(split / "split"))
    (split / "src" / "pytorch_model.bin").write_bytes(b"pickle")  # must never be copied
    cfg = ModelParams(source="pretrained", name_or_path=str(split / "src"))
    metrics = run(cfg, paths_in(split, "copied"), str(split / "split"))
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
        run(cfg, paths_in(tmp_path), str(tmp_path / "split"))


def test_hub_model_needs_a_pinned_revision(tmp_path):
    cfg = ModelParams(source="pretrained", name_or_path="bert-base-uncased", revision=None)
    with pytest.raises(StageError, match=r"model\.revision is required"):
        run(cfg, paths_in(tmp_path), str(tmp_path / "split"))


def test_pinned_sha256_accepts_the_same_weights_and_refuses_others(split, tmp_path):
    from stages.lib.model.packaged import sha256_of

    src = split / "src-pinned"
    if not src.is_dir():
        run(ModelParams.model_validate(tiny_model_params(steps=1)), paths_in(split, "src-pinned"), str(split / "split"))
    good = sha256_of(src / "model.safetensors")
    cfg = ModelParams(source="pretrained", name_or_path=str(src), sha256=good)
    assert run(cfg, paths_in(tmp_path, "ok"), str(tmp_path / "split"))["total_params"] > 0
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("previous output")
    wrong = ModelParams(source="pretrained", name_or_path=str(src), sha256="0" * 64)
    with pytest.raises(StageError, match=r"has sha256 [0-9a-f]{64}, not the 0{64} pinned in model\.sha256"):
        run(wrong, paths_in(tmp_path, "old"), str(tmp_path / "split"))
    assert (tmp_path / "old" / "keep.txt").read_text() == "previous output"  # the refused copy left nothing


def test_a_missing_local_folder_names_the_setup_script(tmp_path):
    cfg = ModelParams(source="pretrained", name_or_path="models/pretrained/nowhere", sha256="0" * 64)
    with pytest.raises(StageError, match=r"scripts/setup_models\.sh"):
        run(cfg, paths_in(tmp_path), str(tmp_path / "split"))


def test_extract_model_checks_the_archive_and_leaves_nothing_on_mismatch(split, tmp_path):
    import zipfile

    from stages.lib.model.packaged import extract_model, sha256_of

    src = split / "src-zip"
    if not src.is_dir():
        run(ModelParams.model_validate(tiny_model_params(steps=1)), paths_in(split, "src-zip"), str(split / "split"))
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f.name)
    good = sha256_of(src / "model.safetensors")
    with pytest.raises(ValueError, match=r"pinned in model\.sha256"):
        extract_model(archive, tmp_path / "bad", "f" * 64)
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.tmp").exists()
    out = extract_model(archive, tmp_path / "good", good)
    assert sha256_of(out / "model.safetensors") == good
