"""evaluate@<approach>: test metrics, predictions with probabilities, confusion rows, faithful reloading."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from stages import evaluate, train
from stages.lib.core.errors import StageError
from stages.lib.model.approaches import KINDS
from stages.lib.model.approaches.common import read_meta
from stages.lib.model.data import prepare_data
from stages.lib.model.evaluation import classification_report, expected_calibration_error
from stages.lib.model.textclf import encode, load_tokenizer
from stages.lib.model.training import options_for
from tests.finetune_env import Env, approach, make_env

ADAPTER = {"peft": {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["query", "value"]}}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    env = make_env(tmp_path_factory.mktemp("evaluate"))
    for kind, extra in (("feature", {}), ("adapter", ADAPTER)):
        train.run(kind, approach(kind, **extra), env.train_params(), env.model, env.train_paths, env.base)
    return env


def test_metrics_predictions_and_confusion(env):
    metrics = evaluate.run("feature", env.train_params(), env.model, env.eval_paths, env.train_paths, env.base)
    assert {"accuracy", "macro_f1", "weighted_f1", "mcc", "ece", "per_class", "n_test"} <= set(metrics)
    assert metrics["n_test"] == 12
    assert set(metrics["per_class"]) == {"ham", "spam"}
    assert set(metrics["per_class"]["spam"]) == {"precision", "recall", "f1", "support"}
    predictions = pq.read_table(Path(env.eval_paths.predictions_dir) / "feature.parquet").to_pandas()
    assert list(predictions.columns) == [
        "id",
        "text",
        "label",
        "predicted",
        "confidence",
        "correct",
        "prob_ham",
        "prob_spam",
    ]
    assert len(predictions) == 12 and list(predictions["id"]) == sorted(predictions["id"])
    assert (predictions["prob_ham"] + predictions["prob_spam"]).round(5).eq(1).all()
    assert metrics["accuracy"] == pytest.approx(predictions["correct"].mean(), abs=1e-6)
    confusion = json.loads((Path(env.eval_paths.confusion_dir) / "feature.json").read_text())
    assert len(confusion) == 12 and set(confusion[0]) == {"actual", "predicted"}


def test_reloaded_adapter_gives_identical_logits(env):
    """Trained in memory vs. loaded from models/adapter on a fresh base: the same logits, bit for bit."""
    cfg = approach("adapter", **ADAPTER)
    paths = env.paths_under("reload")
    train.run("adapter", cfg, env.train_params(), env.model, paths, env.base)
    model_dir = Path(paths.models_dir) / "adapter"
    meta = read_meta(model_dir)
    first = KINDS["adapter"].load(model_dir, Path(env.base.out), meta)
    second = KINDS["adapter"].load(model_dir, Path(env.base.out), meta)
    tokenizer = load_tokenizer(env.base.out)
    batch = tokenizer(["free cash prize, call now", "see you at lunch"], padding=True, return_tensors="pt")
    with torch.no_grad():
        a = first(batch["input_ids"], batch["attention_mask"])["logits"]
        b = second(batch["input_ids"], batch["attention_mask"])["logits"]
    assert torch.equal(a, b)
    # and the adapter matters: the base backbone with the same head gives other logits
    base = KINDS["feature"].load(model_dir, Path(env.base.out), meta)
    with torch.no_grad():
        c = base(batch["input_ids"], batch["attention_mask"])["logits"]
    assert not torch.allclose(a, c)


def test_reload_matches_the_model_that_was_trained(env):
    """The stage's in-memory model and its saved form agree (no random pooler, head saved with the adapter)."""
    import stages.lib.model.approaches.adapter as adapter_module
    from stages.lib.model.textclf import load_backbone
    from stages.lib.model.training import seed_everything

    cfg = approach("adapter", **ADAPTER)
    params = env.train_params()
    seed_everything(params.seed, env.model.num_threads)
    data = prepare_data(Path(env.train_paths.data_dir), Path(env.base.out), env.train_paths.class_weights, params)
    model = adapter_module.build(cfg, load_backbone(env.base.out), 2)
    adapter_module.train(cfg, model, data, options_for(cfg, params, 1), env.root / "ck", None, False, {})
    out = env.root / "saved-adapter"
    out.mkdir()
    adapter_module.save(model, cfg, out)
    (out / "refinery.json").write_text(
        json.dumps(
            {
                "labels": ["ham", "spam"],
                "pooling": "mean",
                "layer": -1,
                "head": {"in_features": 32, "hidden_sizes": [], "dropout": 0.1},
            }
        )
    )
    loaded = adapter_module.load(out, Path(env.base.out), read_meta(out))
    rows = encode(data.tokenizer, ["win a free prize now", "lunch tomorrow?"], None, 32)
    batch = data.tokenizer.pad(rows, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        assert torch.equal(
            model(batch["input_ids"], batch["attention_mask"])["logits"],
            loaded(batch["input_ids"], batch["attention_mask"])["logits"],
        )


def test_missing_model_fails_clearly(env):
    with pytest.raises(StageError, match="run train@nothing first"):
        evaluate.run("nothing", env.train_params(), env.model, env.eval_paths, env.train_paths, env.base)


def test_unseen_test_label_counts_as_an_error():
    report = classification_report(["a", "b", "c"], ["a", "b", "a"], ["a", "b"])
    assert report["accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert report["n_unseen_label"] == 1 and report["per_class"]["c"]["recall"] == 0.0


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    import numpy as np

    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([1, 1, 1, 0.0])) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([[0.99, 0.01]] * 4), np.zeros(4)) == pytest.approx(0.99)


@pytest.mark.parametrize(
    "block",
    [
        {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4},
        {
            "peft_type": "IA3",
            "target_modules": ["key", "value", "output.dense"],
            "feedforward_modules": ["output.dense"],
        },
    ],
)
def test_other_peft_methods_train_save_and_evaluate(env, block):
    """Prompt tuning prepends virtual tokens: inputs are shortened to leave them room, pooling skips nothing."""
    name = block["peft_type"].lower()
    metrics = train.run(name, approach("adapter", peft=block), env.train_params(), env.model, env.train_paths, env.base)
    assert 0 < metrics["trainable_fraction"] < 0.1
    meta = read_meta(Path(env.train_paths.models_dir) / name)
    assert meta["max_length"] == 32 - block.get("num_virtual_tokens", 0)
    scores = evaluate.run(name, env.train_params(), env.model, env.eval_paths, env.train_paths, env.base)
    assert scores["n_test"] == 12
