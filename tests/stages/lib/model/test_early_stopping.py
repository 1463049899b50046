"""Early stopping counted in optimiser steps (or epochs), with a minimum before anything is kept or stops.

A small validation split is noisy: one lucky early evaluation used to be kept as the best and, with patience
counted in evaluations, to stop the run (a 3-class run kept step 50 of 272).
"""

from __future__ import annotations

import pytest
from transformers import TrainerControl, TrainerState

from schemas.train import TrainParams
from stages.lib.model.training import StepPatience, counts_as_best, in_steps, steps_per_epoch


def evaluate(stopper: StepPatience, curve: dict[int, float], max_steps: int) -> int:
    """Feed the evaluations in step order; the step at which the callback stops the run (max_steps if never)."""
    state, control = TrainerState(), TrainerControl()
    state.max_steps = max_steps
    stopper.on_train_begin(None, state, control)
    for step, value in sorted(curve.items()):
        state.global_step = step
        stopper.on_evaluate(None, state, control, metrics={"eval_macro_f1": value})
        if control.should_training_stop:
            return step
    return max_steps


# A lucky first evaluation on a small validation split, then steady learning that overtakes it late.
NOISY = {50: 0.80, 100: 0.70, 150: 0.72, 200: 0.75, 250: 0.79, 300: 0.83, 350: 0.85}


def test_a_lucky_early_evaluation_neither_wins_nor_stops_the_run():
    # Patience of three evaluations from the first one (the old behaviour): stops at 200, keeping step 50.
    old = StepPatience("macro_f1", True, patience=150, min_steps=0)
    assert evaluate(old, NOISY, 400) == 200 and old.best_step == 50
    # From step 150 on: step 50 is no candidate, the run goes on and keeps step 350.
    new = StepPatience("macro_f1", True, patience=150, min_steps=150)
    assert evaluate(new, NOISY, 400) == 400 and new.best_step == 350
    # Patience in steps stops once the best is that old, whatever the evaluation interval.
    flat = {s: 0.9 if s == 200 else 0.5 for s in range(150, 1001, 25)}
    stopper = StepPatience("macro_f1", True, patience=150, min_steps=150)
    assert evaluate(stopper, flat, 1000) == 350 and stopper.best_step == 200


def test_loss_is_lower_is_better_and_the_last_evaluation_always_counts():
    stopper = StepPatience("loss", False, patience=None, min_steps=500)
    state, control = TrainerState(), TrainerControl()
    state.max_steps = 100
    stopper.on_train_begin(None, state, control)
    for step, loss in ((50, 0.5), (100, 0.7)):
        state.global_step = step
        stopper.on_evaluate(None, state, control, metrics={"eval_loss": loss})
    assert stopper.best_step == 100  # before the minimum only the final evaluation is a candidate
    assert counts_as_best(100, 500, 100) and not counts_as_best(50, 500, 100) and counts_as_best(500, 500, 900)


def test_epochs_convert_to_optimiser_steps():
    assert steps_per_epoch(4873, 32, 1) == 153
    assert steps_per_epoch(4873, 32, 2) == 77 and steps_per_epoch(4873, 16, 1, processes=2) == 153
    assert in_steps(1.0, "epochs", 153) == 153 and in_steps(0.5, "epochs", 153) == 77
    assert in_steps(150, "steps", 153) == 150


def test_patience_counted_in_evaluations_is_refused_with_the_fix():
    TrainParams.model_validate({"eval_steps": 50, "early_stopping": {"patience": 150, "minimum": 150}})
    TrainParams.model_validate({"eval_steps": 50, "early_stopping": {"unit": "epochs", "patience": 1}})
    with pytest.raises(ValueError, match=r"Patience counts steps, not evaluations: e\.g\. set it to 150"):
        TrainParams.model_validate({"eval_steps": 50, "early_stopping": {"patience": 3}})


def test_a_real_run_keeps_no_evaluation_before_the_minimum(tmp_path):
    """Six steps, an evaluation every two: with a minimum of 6 steps only the final evaluation may be kept
    (without one this run keeps step 2, whose macro-F1 the later evaluations only equal)."""
    from stages import train as train_stage
    from tests.finetune_env import approach, make_env

    env = make_env(tmp_path)
    stop = {"metric": "macro_f1", "unit": "steps", "patience": None, "minimum": 6}
    metrics = train_stage.run(
        "feature", approach("feature"), env.train_params(early_stopping=stop), env.model, env.paths_under("s"), env.base
    )
    assert metrics["best_validation"]["step"] == 6 and metrics["steps"] == 6
    assert metrics["num_threads"] == env.model.num_threads  # the thread count is recorded beside the result
