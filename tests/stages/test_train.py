"""train@<approach>: what each approach trains and freezes, the metrics it writes, resume and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from stages import train as train_stage
from stages.lib.core.errors import StageError
from stages.lib.model.approaches import KINDS
from stages.lib.model.data import prepare_data
from stages.lib.model.textclf import count_params, load_backbone
from stages.lib.model.training import options_for, seed_everything
from tests.finetune_env import Env, approach, make_env

METRIC_KEYS = {
    "trainable_params",
    "total_params",
    "trainable_fraction",
    "train_seconds",
    "samples_per_second",
    "peak_memory_mb",
    "num_threads",
    "best_validation",
    "steps",
    "train_rows",
    "validation_rows",
    "resumed_from_step",
    "dropped",
}
TIMING = {"train_seconds", "samples_per_second", "peak_memory_mb"}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    return make_env(tmp_path_factory.mktemp("train"), class_weights={"ham": 0.75, "spam": 1.5})


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}


def train_in_memory(env: Env, cfg, tmp_path: Path):
    """Build and train through the approach module, as the stage does; return the model and its snapshot."""
    train = env.train_params()
    seed_everything(train.seed, env.model.num_threads)
    data = prepare_data(Path(env.train_paths.data_dir), Path(env.base.out), env.train_paths.class_weights, train)
    module = KINDS[cfg.kind]
    model = module.build(cfg, load_backbone(env.base.out), len(data.labels))
    before = snapshot(model)
    options = options_for(cfg, train, env.model.num_threads)
    module.train(cfg, model, data, options, tmp_path / "ckpt", None, False, {})
    return model, before


def test_feature_with_cache_trains_the_head_only(env, tmp_path):
    cfg = approach("feature", learning_rate=1e-2, head={"type": "mlp", "hidden_sizes": [16]})
    model, before = train_in_memory(env, cfg, tmp_path)
    head = {n for n in before if n.startswith("head.")}
    assert changed(before, model) == head
    assert count_params(model)[0] == sum(p.numel() for n, p in model.named_parameters() if n in head)


def test_feature_with_unfrozen_last_layer_changes_that_layer_and_the_head(env, tmp_path):
    cfg = approach("feature", learning_rate=1e-2, cache_embeddings=False, trainable_layers=1)
    model, before = train_in_memory(env, cfg, tmp_path)
    moved = changed(before, model)
    assert moved and all(n.startswith(("head.", "backbone.encoder.layer.1.")) for n in moved)
    assert any(n.startswith("backbone.encoder.layer.1.") for n in moved)
    assert not any(n.startswith(("backbone.embeddings", "backbone.encoder.layer.0.")) for n in moved)


def test_full_changes_every_parameter(env, tmp_path):
    model, before = train_in_memory(env, approach("full", learning_rate=1e-3), tmp_path)
    assert changed(before, model) == set(before)
    assert count_params(model)[0] == count_params(model)[1]


def test_adapter_changes_only_the_adapter_and_the_head(env, tmp_path):
    cfg = approach("adapter", learning_rate=1e-2, peft={"peft_type": "LORA", "r": 2, "lora_alpha": 4})
    model, before = train_in_memory(env, cfg, tmp_path)
    moved = changed(before, model)
    adapter = {n for n in before if "lora_" in n}
    assert adapter and moved == adapter | {n for n in before if n.startswith("head.")}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == moved


@pytest.mark.parametrize("kind", ["feature", "full", "adapter"])
def test_stage_writes_model_and_metrics(env, kind):
    paths = env.paths_under(f"stage-{kind}")
    cfg = approach(kind)
    metrics = train_stage.run(kind, cfg, env.train_params(), env.model, paths, env.base)
    assert set(metrics) == METRIC_KEYS
    assert metrics["trainable_fraction"] == pytest.approx(metrics["trainable_params"] / metrics["total_params"], 1e-5)
    assert set(metrics["best_validation"]) == {"macro_f1", "step"} and metrics["best_validation"]["step"] > 0
    assert (metrics["train_rows"], metrics["validation_rows"], metrics["steps"]) == (30, 12, 6)
    assert metrics["dropped"] == {"train_no_label": 0, "validation_no_label": 0, "validation_unseen_label": 0}
    out = Path(paths.models_dir) / kind
    meta = json.loads((out / "refinery.json").read_text())
    assert meta["labels"] == ["ham", "spam"] and meta["kind"] == kind
    saved = {p.name for p in out.iterdir()}
    expected = {
        "feature": {"head.safetensors"},
        "full": {"head.safetensors", "backbone"},
        "adapter": {"head.safetensors", "adapter"},
    }[kind]
    assert saved == expected | {"refinery.json", "manifest.json"}
    # dvclive wrote curves beside, never a dvc.yaml; the checkpoints of a finished run are gone
    assert (Path(paths.live_dir) / kind / "plots" / "metrics").is_dir()
    assert not list(Path(paths.live_dir).rglob("dvc.yaml"))
    assert not (Path(paths.checkpoints_dir) / kind).exists()
    if kind == "adapter":  # the adapter alone, not the base weights
        assert (out / "adapter" / "adapter_model.safetensors").stat().st_size < 0.2 * (
            Path(env.base.out) / "model.safetensors"
        ).stat().st_size
        assert metrics["trainable_fraction"] < 0.5
    if kind == "full":
        assert metrics["trainable_fraction"] == 1.0


def test_two_runs_with_one_seed_give_identical_metrics_and_weights(env):
    cfg = approach("full", learning_rate=1e-3)
    first = train_stage.run("same", cfg, env.train_params(), env.model, env.paths_under("seed-a"), env.base)
    second = train_stage.run("same", cfg, env.train_params(), env.model, env.paths_under("seed-b"), env.base)
    assert {k: v for k, v in first.items() if k not in TIMING} == {k: v for k, v in second.items() if k not in TIMING}
    for name in ("head.safetensors", "backbone/model.safetensors"):
        a = Path(env.paths_under("seed-a").models_dir) / "same" / name
        b = Path(env.paths_under("seed-b").models_dir) / "same" / name
        assert a.read_bytes() == b.read_bytes(), name


def test_seeds_give_the_spread_and_keep_the_first_seeds_model(env):
    """train.seeds: 3 trains three times; the saved model is the one seeds: 1 saves, the spread covers all three."""
    cfg = approach("full", learning_rate=1e-2)  # high enough that some seeds collapse to one class
    one = train_stage.run("s", cfg, env.train_params(), env.model, env.paths_under("seeds-1"), env.base)
    three = train_stage.run("s", cfg, env.train_params(seeds=3), env.model, env.paths_under("seeds-3"), env.base)
    for name in ("head.safetensors", "backbone/model.safetensors"):
        a = Path(env.paths_under("seeds-1").models_dir) / "s" / name
        b = Path(env.paths_under("seeds-3").models_dir) / "s" / name
        assert a.read_bytes() == b.read_bytes(), name
    assert "seeds" not in one
    spread = three["seeds"]
    seed = env.train_params().seed
    assert spread["seeds"] == [seed, seed + 1, seed + 2] and spread["metric"] == "macro_f1"
    assert spread["values"][0] == pytest.approx(one["best_validation"]["macro_f1"], abs=1e-6)
    assert spread["min"] <= spread["mean"] <= spread["max"] and spread["std"] >= 0
    assert len(set(spread["values"])) > 1  # other seeds, other runs
    # always ham (20 of 30 train rows) on validation's 8 ham and 4 spam: F1 ham 2 * (8/12) / (8/12 + 1), spam 0
    assert spread["majority_class"] == pytest.approx((2 * (8 / 12) / (8 / 12 + 1)) / 2, abs=1e-6)
    assert spread["failed"] == sum(v <= spread["majority_class"] for v in spread["values"])
    assert 0 < spread["failed"] < 3  # a collapsed run is told apart from the ones that learnt
    assert not list(Path(env.paths_under("seeds-3").checkpoints_dir).iterdir())  # extra runs' checkpoints gone


class Interrupt(TrainerCallback):
    """Stops the process-like run right after the checkpoint at `step` was written."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def test_resume_continues_from_the_last_checkpoint(env):
    cfg = approach("full", learning_rate=1e-3)
    paths = env.paths_under("resume")
    with pytest.raises(KeyboardInterrupt):
        train_stage.run("full", cfg, env.train_params(), env.model, paths, env.base, callbacks=[Interrupt(4)])
    assert (Path(paths.checkpoints_dir) / "full" / "checkpoint-4").is_dir()
    assert not (Path(paths.models_dir) / "full").exists()  # nothing half-written
    resumed = train_stage.run("full", cfg, env.train_params(), env.model, paths, env.base)
    assert resumed["resumed_from_step"] == 4 and resumed["steps"] == 6
    straight = train_stage.run("full", cfg, env.train_params(), env.model, env.paths_under("straight"), env.base)
    assert resumed["best_validation"] == straight["best_validation"]


def test_resume_ignores_checkpoints_of_other_params(env):
    paths = env.paths_under("stale")
    with pytest.raises(KeyboardInterrupt):
        train_stage.run(
            "full",
            approach("full", learning_rate=1e-3),
            env.train_params(),
            env.model,
            paths,
            env.base,
            callbacks=[Interrupt(2)],
        )
    metrics = train_stage.run(
        "full", approach("full", learning_rate=5e-4), env.train_params(), env.model, paths, env.base
    )
    assert metrics["resumed_from_step"] is None and metrics["steps"] == 6


def test_one_label_fails_clearly(env, tmp_path):
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    table = pq.read_table(Path(env.train_paths.data_dir) / "train.parquet")
    pq.write_table(table.filter(table.column("label").to_pandas().eq("ham").to_numpy()), data / "train.parquet")
    pq.write_table(table, data / "validation.parquet")
    with pytest.raises(StageError, match="a classifier needs 2 or more"):
        prepare_data(data, Path(env.base.out), data / "none.json", env.train_params())


def test_class_weights_missing_a_label_fail_clearly(env, tmp_path):
    (tmp_path / "w.json").write_text(json.dumps({"class_weights": {"ham": 1.0}}))
    with pytest.raises(StageError, match="no weight for labels"):
        prepare_data(Path(env.train_paths.data_dir), Path(env.base.out), tmp_path / "w.json", env.train_params())


def test_mixed_precision_without_gpu_fails_before_training(env):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(StageError, match="needs a GPU"):
        train_stage.run(
            "full",
            approach("full"),
            env.train_params(mixed_precision="bf16"),
            env.model,
            env.paths_under("bf16"),
            env.base,
        )


def test_rows_left_out_are_counted_by_reason(env, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = Path(env.train_paths.data_dir)
    train_rows = pq.read_table(src / "train.parquet").to_pylist()
    val_rows = pq.read_table(src / "validation.parquet").to_pylist()
    train_rows[0]["label"] = None
    val_rows[0]["label"], val_rows[1]["label"] = None, "phishing"
    for name, rows in (("train", train_rows), ("validation", val_rows)):
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / f"{name}.parquet")
    data = prepare_data(tmp_path, Path(env.base.out), tmp_path / "none.json", env.train_params())
    assert data.dropped == {"train_no_label": 1, "validation_no_label": 1, "validation_unseen_label": 1}
    assert (len(data.train_rows), len(data.val_rows), data.labels) == (29, 10, ["ham", "spam"])


def test_pooling_masks_padding_and_skips_virtual_tokens():
    from stages.lib.model.textclf import pool

    hidden = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])  # (batch 2, tokens 3, width 1)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert pool(hidden, mask, "mean").flatten().tolist() == [2.0, 4.0]
    assert pool(hidden, mask, "cls").flatten().tolist() == [1.0, 2.0]
    # prompt tuning prepends one virtual token: it is attended, and the first real token follows it
    assert pool(hidden, mask[:, 1:], "cls").flatten().tolist() == [3.0, 4.0]
    assert pool(hidden, mask[:, 1:], "mean").flatten().tolist() == [2.0, 4.0]


def test_feature_pools_the_chosen_layer(env):
    from stages.lib.model.approaches import feature

    backbone = load_backbone(env.base.out)
    batch = {"input_ids": torch.tensor([[2, 10, 11, 3]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    last = feature.build(approach("feature", layer=-1), backbone, 2).eval()
    emb = feature.build(approach("feature", layer=0), backbone, 2).eval()
    with torch.no_grad():
        hidden = backbone(**batch, output_hidden_states=True).hidden_states
        assert torch.allclose(last.features(**batch), hidden[-1].mean(1))
        assert torch.allclose(emb.features(**batch), hidden[0].mean(1))


def test_adapter_config_is_written_in_a_stable_order(tmp_path):
    """PEFT writes target_modules from a set (hash order differs per process); the saved file must not."""
    from stages.lib.model.approaches.adapter import _sort_target_modules

    config = tmp_path / "adapter_config.json"
    config.write_text('{"target_modules": ["value", "query"], "r": 8}')
    _sort_target_modules(config)
    first = config.read_bytes()
    config.write_text('{"r": 8, "target_modules": ["query", "value"]}')
    _sort_target_modules(config)
    assert config.read_bytes() == first
    assert '"query",\n    "value"' in first.decode()


def test_timing_curves_are_dropped_from_the_tracked_curves(tmp_path):
    """runtime and *_per_second curves differ on every run; the git-tracked curves must not hold them."""
    from stages.lib.model.training import drop_timing_curves

    metrics = tmp_path / "plots/metrics"
    for name in ("eval/macro_f1", "eval/runtime", "eval/samples_per_second", "train/steps_per_second", "loss"):
        (metrics / f"{name}.tsv").parent.mkdir(parents=True, exist_ok=True)
        (metrics / f"{name}.tsv").write_text("step\tx\n0\t1\n")
    (tmp_path / "metrics.json").write_text('{"train": {"runtime": 1.5}}')
    (tmp_path / "params.yaml").write_text("output_dir: checkpoints/x\n")
    drop_timing_curves(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "plots/metrics/eval/macro_f1.tsv",
        "plots/metrics/loss.tsv",
    ]
