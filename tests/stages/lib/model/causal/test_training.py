"""Fine-tuning through the shared Trainer loop: a toy set teaches the model to answer and to stop."""

from __future__ import annotations

import pytest
import torch

from schemas.causal import CAUSAL_KINDS
from schemas.train import TrainParams
from stages.lib.model.causal import KINDS
from stages.lib.model.causal.base import stop_token_ids
from stages.lib.model.causal.evaluation import generate, score_answers, token_loss
from stages.lib.model.causal.training import fit_causal
from stages.lib.model.training import TrainOptions, seed_everything
from tests.stages.lib.model.causal.conftest import pack_rows, tiny_llama

TRAIN = {
    "max_steps": 120,
    "batch_size": 10,
    "eval_batch_size": 20,
    "eval_steps": 40,
    "save_steps": 40,
    "logging_steps": 20,
    "warmup_ratio": 0.05,
    "early_stopping": {"metric": "loss", "patience": None},
    "mixed_precision": "no",
    "group_by_length": False,
}


def options(**overrides) -> TrainOptions:
    return TrainOptions(train=TrainParams.model_validate(TRAIN | overrides), learning_rate=1e-2, epochs=1)


def train(tokenizer, rows, tmp_path, kind="full", packed=False, **overrides):
    seed_everything(0, 1)
    cfg = CAUSAL_KINDS[kind](kind=kind)
    model = KINDS[kind].build(cfg, tiny_llama(tokenizer))
    data = pack_rows(rows, [[i, i + 1] for i in range(0, len(rows), 2)]) if packed else rows
    fit = fit_causal(
        model,
        data,
        rows,  # packed train rows validate on the plain rows
        pad_token_id=tokenizer.pad_token_id,
        options=options(**overrides),
        checkpoint_dir=tmp_path / "checkpoints",
        live_dir=tmp_path / "live",
        resume=True,
        fingerprint={"test": kind},
    )
    return model, fit


def test_after_training_on_a_toy_set_the_model_answers_and_stops(tokenizer, rows, tmp_path):
    before = token_loss(tiny_llama(tokenizer), rows, tokenizer.pad_token_id, 8)
    model, fit = train(tokenizer, rows, tmp_path)
    after = token_loss(model, rows, tokenizer.pad_token_id, 8)
    assert after["loss"] < before["loss"] / 4
    assert after["trained_tokens"] == sum(r["n_trained"] for r in rows)
    assert fit.best_step is not None and fit.global_step == 120
    assert not (tmp_path / "checkpoints").exists()  # removed after a successful run
    assert (tmp_path / "live" / "plots" / "metrics" / "eval" / "loss.tsv").is_file()
    generations = generate(
        model,
        tokenizer,
        [r["prompt"] for r in rows],
        max_new_tokens=16,
        batch_size=8,
        stop_ids=stop_token_ids(tokenizer, model),
    )
    table, summary = score_answers([r["id"] for r in rows], [r["prompt"] for r in rows],
                                   [r["answer"] for r in rows], generations)  # fmt: skip
    assert summary["stopped_share"] == 1.0
    assert summary["token_f1"] > 0.6
    assert table.column("id").to_pylist() == sorted(r["id"] for r in rows)
    assert 0 < summary["mean_generated_tokens"] < 16


def test_packed_training_learns_too(tokenizer, rows, tmp_path):
    before = token_loss(tiny_llama(tokenizer), rows, tokenizer.pad_token_id, 8)
    model, _ = train(tokenizer, rows, tmp_path, packed=True, max_steps=40, eval_steps=20, save_steps=20)
    assert token_loss(model, rows, tokenizer.pad_token_id, 8)["loss"] < before["loss"] / 2


@pytest.mark.parametrize("kind", ["adapter", "feature"])
def test_adapter_and_feature_train_only_their_parameters(tokenizer, rows, tmp_path, kind):
    torch.manual_seed(0)
    reference = tiny_llama(tokenizer).state_dict()
    model, _ = train(tokenizer, rows, tmp_path, kind=kind, max_steps=10, eval_steps=10, save_steps=10)
    frozen = {n.removeprefix("base_model.model.").replace(".base_layer", "") for n, p in model.named_parameters()
              if not p.requires_grad}  # fmt: skip
    state = {n.removeprefix("base_model.model.").replace(".base_layer", ""): v for n, v in model.state_dict().items()}
    assert frozen and all(torch.equal(state[n], reference[n]) for n in frozen)


def test_a_classifier_metric_is_refused_for_a_causal_lm(tokenizer, rows, tmp_path):
    with pytest.raises(ValueError, match="a causal LM is selected by loss: set it to loss"):
        train(tokenizer, rows, tmp_path, early_stopping={"metric": "macro_f1"})


def test_same_seed_same_weights(tokenizer, rows, tmp_path):
    a, _ = train(tokenizer, rows, tmp_path / "a", max_steps=6, eval_steps=3, save_steps=3)
    b, _ = train(tokenizer, rows, tmp_path / "b", max_steps=6, eval_steps=3, save_steps=3)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


class Crash(Exception):
    pass


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tokenizer, rows, tmp_path):
    from transformers import TrainerCallback

    class CrashAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 15:
                raise Crash

    settings = {"max_steps": 20, "eval_steps": 10, "save_steps": 10}
    straight, _ = train(tokenizer, rows, tmp_path / "straight", **settings)

    def run(callbacks):
        seed_everything(0, 1)
        model = KINDS["full"].build(CAUSAL_KINDS["full"](kind="full"), tiny_llama(tokenizer))
        fit = fit_causal(model, rows, rows, pad_token_id=tokenizer.pad_token_id,
                         options=options(**settings), checkpoint_dir=tmp_path / "ck", live_dir=None, resume=True,
                         fingerprint={"test": "resume"}, callbacks=callbacks)  # fmt: skip
        return model, fit

    with pytest.raises(Crash):
        run([CrashAt()])
    resumed, fit = run([])
    assert fit.resumed_from_step == 10 and fit.global_step == 20
    for (name, x), (_, y) in zip(resumed.state_dict().items(), straight.state_dict().items()):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0, msg=name)
