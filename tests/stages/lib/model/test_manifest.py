"""Model folders carry a manifest when saved and are verified before predict and evaluate load them.

Each way a folder goes wrong (a file missing, truncated, not JSON, an unknown kind, a head that does not fit
the labels, a symlink out of the repository, a file added or changed) ends in one StageError line naming
the file and the command that rebuilds it, never a traceback or a silently wrong model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas import load_params
from schemas.compare import TfidfBaseline
from schemas.ingest import Source
from stages import evaluate, predict, train
from stages.lib.core.errors import StageError
from stages.lib.model.inference import load_trained
from stages.lib.model.manifest import MANIFEST_FILE, verify_model_folder, write_manifest
from stages.lib.model.tfidf import baseline_pipeline, load_baseline, save_baseline
from tests.finetune_env import Env, approach, make_env

TEXTS = ["win a free prize now", "free cash call now", "see you at lunch", "are we still meeting today"]
LABELS = ["spam", "spam", "ham", "ham"]
REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    env = make_env(tmp_path_factory.mktemp("manifest"))
    train.run("full", approach("full"), env.train_params(), env.model, env.train_paths, env.base)
    return env


@pytest.fixture
def copy(env, tmp_path) -> tuple[Path, Path]:
    """(models/full, models/base) copied, so that each test may break them."""
    model, base = tmp_path / "models/full", tmp_path / "models/base"
    shutil.copytree(Path(env.train_paths.models_dir) / "full", model)
    shutil.copytree(env.base.out, base)
    return model, base


def _rewrite_meta(model: Path, **changes) -> None:
    """Change refinery.json and write the manifest again: a folder whose manifest agrees but whose content is wrong."""
    meta = json.loads((model / "refinery.json").read_text())
    (model / "refinery.json").write_text(json.dumps(meta | changes))
    write_manifest(model)


def test_saved_folders_carry_a_manifest_that_verifies(env, copy):
    model, base = copy
    listed = json.loads((model / MANIFEST_FILE).read_text())["files"]
    assert sorted(listed) == ["backbone/config.json", "backbone/model.safetensors", "head.safetensors", "refinery.json"]
    assert {"tokenizer.json", "model.safetensors", "config.json"} <= set(
        json.loads((base / MANIFEST_FILE).read_text())["files"]
    )
    assert verify_model_folder(model, "fix", ["full"])["kind"] == "full"
    assert verify_model_folder(base, "fix") is None
    before = (model / MANIFEST_FILE).read_bytes()
    write_manifest(model)
    assert (model / MANIFEST_FILE).read_bytes() == before  # byte-deterministic
    load_trained(model, base)


def test_a_missing_tokenizer_is_refused_instead_of_an_empty_vocabulary(copy):
    model, base = copy
    (base / "tokenizer.json").unlink()
    with pytest.raises(StageError, match=r"base/tokenizer\.json is missing \(without it the tokenizer loads an empty"):
        load_trained(model, base)
    write_manifest(base)  # even with a manifest that agrees, a base model needs a vocabulary
    with pytest.raises(StageError, match=r"tokenizer\.json is missing .*empty vocabulary.*dvc repro base_model"):
        load_trained(model, base)


def test_a_truncated_safetensors_file_names_the_file(copy):
    model, base = copy
    weights = model / "backbone/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(StageError, match=r"backbone/model\.safetensors is truncated: .*dvc repro train@full"):
        load_trained(model, base)
    weights.write_bytes(b"\x01")
    with pytest.raises(StageError, match=r"model\.safetensors is truncated or not a safetensors file"):
        load_trained(model, base)


def test_refinery_json_that_is_not_json(copy):
    model, base = copy
    (model / "refinery.json").write_text('{"kind": "full", ')
    with pytest.raises(StageError, match=r"full/refinery\.json is not valid JSON .*dvc repro train@full"):
        load_trained(model, base)


def test_an_unknown_kind(copy):
    model, base = copy
    _rewrite_meta(model, kind="lora2000")
    with pytest.raises(StageError, match=r"refinery\.json: unknown kind 'lora2000' \(known: adapter, feature, full"):
        load_trained(model, base)


def test_labels_that_do_not_match_the_head(copy):
    model, base = copy
    _rewrite_meta(model, labels=["ham", "spam", "eggs"])
    with pytest.raises(
        StageError, match=r"head\.safetensors has layer sizes \[32, 2\], but refinery\.json says \[32, 3\]"
    ):
        load_trained(model, base)


def test_a_backbone_symlinked_outside_the_repository(copy, tmp_path_factory):
    model, base = copy
    outside = tmp_path_factory.mktemp("elsewhere") / "backbone"
    shutil.move(model / "backbone", outside)
    (model / "backbone").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StageError, match=r"full/backbone \(a symlink to .*\) is outside the repository"):
        load_trained(model, base)


def test_missing_manifest_added_file_and_changed_bytes(copy):
    model, base = copy
    (model / "extra.py").write_text("import os\n")
    with pytest.raises(StageError, match=r"full/extra\.py is not in manifest\.json .*remove it or run dvc repro"):
        load_trained(model, base)
    (model / "extra.py").unlink()
    head = model / "head.safetensors"
    data = bytearray(head.read_bytes())
    data[-1] ^= 0xFF  # same size, other weights
    head.write_bytes(bytes(data))
    with pytest.raises(StageError, match=r"head\.safetensors changed after the folder was saved"):
        load_trained(model, base)
    (model / MANIFEST_FILE).unlink()
    with pytest.raises(StageError, match=r"full/manifest\.json is missing.*dvc repro train@full"):
        load_trained(model, base)


def test_evaluate_and_predict_refuse_a_broken_folder_in_one_line(env, copy, tmp_path):
    model, base = copy
    (base / "tokenizer.json").unlink()
    train_paths = env.train_paths.model_copy(update={"models_dir": str(model.parent)})
    base_paths = env.base.model_copy(update={"out": str(base)})
    with pytest.raises(StageError, match=r"tokenizer\.json is missing"):
        evaluate.run("full", env.train_params(), env.model, env.eval_paths, train_paths, base_paths)
    assert not (Path(env.eval_paths.predictions_dir) / "full.parquet").exists()
    params = load_params(REPO / "params.yaml")
    paths = params.paths.model_copy(update={"train": train_paths, "base_model": base_paths})
    params = params.model_copy(update={"paths": paths, "model": env.model})
    src, out = tmp_path / "new.txt", tmp_path / "out.csv"
    src.write_text("win a prize\n")
    with pytest.raises(StageError, match=r"tokenizer\.json is missing"):
        predict.run("full", Source(name="t", path="x", format="text"), src, out, params)
    assert not out.exists()


def test_tfidf_baseline_gets_a_manifest_and_is_verified(tmp_path):
    cfg = TfidfBaseline()
    folder = tmp_path / "tfidf"
    save_baseline(baseline_pipeline(cfg).fit(TEXTS, LABELS), cfg, folder)
    assert sorted(json.loads((folder / MANIFEST_FILE).read_text())["files"]) == ["refinery.json", "weights.safetensors"]
    pipeline, meta = load_baseline(folder)
    assert list(pipeline.predict(TEXTS)) == LABELS
    meta["terms"]["word"] = meta["terms"]["word"][:-1]  # one term fewer than the idf has
    (folder / "refinery.json").write_text(json.dumps(meta))
    write_manifest(folder)
    with pytest.raises(StageError, match=r"weights\.safetensors: word\.idf has shape .*dvc repro compare"):
        load_baseline(folder)
    weights = folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    with pytest.raises(StageError, match=r"weights\.safetensors is truncated"):
        load_baseline(folder)


def test_every_tokenizer_load_needs_a_vocabulary(copy):
    """train, audit and curve load the base tokenizer too: without a vocabulary file they stop, naming it."""
    from stages.lib.model.textclf import load_tokenizer

    _, base = copy
    assert len(load_tokenizer(base)) > 10
    (base / "tokenizer.json").unlink()
    with pytest.raises(StageError, match=r"base/tokenizer\.json is missing \(no vocab\.txt, vocab\.json or \*\.model"):
        load_tokenizer(base)


def test_a_broken_symlink_is_named(copy):
    model, base = copy
    (model / "head.safetensors").unlink()
    (model / "head.safetensors").symlink_to(model / "nowhere.safetensors")
    with pytest.raises(StageError, match=r"full/head\.safetensors is a broken symlink; remove it or run dvc repro"):
        load_trained(model, base)
