"""Fine-tune a causal LM on render's rows with the one training loop every approach uses.

Checkpoints, resume, best-validation selection (by validation loss), early stopping, seeds, thread pinning,
precision flags and dvclive curves are those of stages.lib.model.training.fit; this module only feeds it
render's rows through the padded or packed collator. `train_approach` is one approach trained from the base
model folder with one seed: what train@<approach> (and each extra seed of `train.seeds`) and curve run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.lib.model import training
from stages.lib.model.causal import KINDS
from stages.lib.model.causal.base import load_causal_lm
from stages.lib.model.causal.data import Collator


@dataclass
class CausalTrained:
    """A trained causal LM (best validation checkpoint loaded), what its loop reported and the seconds it took."""

    model: Any
    fit: training.FitResult
    seconds: float


def train_approach(
    approach: Any,
    train: Any,
    *,
    base_dir: Path,
    trust_remote_code: bool,
    attn_implementation: str,
    num_threads: int,
    pad_token_id: int,
    train_rows: Sequence[dict[str, Any]],
    val_rows: Sequence[dict[str, Any]],
    checkpoint_dir: Path,
    live_dir: Path | None,
    resume: bool,
    fingerprint: dict[str, Any],
) -> CausalTrained:
    """Seed with `train.seed`, build `approach` on a fresh copy of the base model in `base_dir`, fit it."""
    training.seed_everything(train.seed, num_threads)
    model = KINDS[approach.kind].build(approach, load_causal_lm(base_dir, trust_remote_code, attn_implementation))
    start = time.perf_counter()
    fit = fit_causal(
        model, train_rows, val_rows, pad_token_id=pad_token_id,
        options=training.options_for(approach, train, num_threads), checkpoint_dir=checkpoint_dir,
        live_dir=live_dir, resume=resume, fingerprint=fingerprint,
    )  # fmt: skip
    return CausalTrained(model, fit, time.perf_counter() - start)


def fit_causal(
    model: Any,
    train_rows: Sequence[dict[str, Any]],
    val_rows: Sequence[dict[str, Any]],
    *,
    pad_token_id: int,
    options: training.TrainOptions,
    checkpoint_dir: str | Path,
    live_dir: str | Path | None,
    resume: bool,
    fingerprint: dict[str, Any],
    callbacks: Sequence[Any] = (),
) -> training.FitResult:
    """Train `model` on render's rows and leave the checkpoint with the lowest validation loss loaded in it.

    Rows from render's packed files (with `seq_lens`) train with block-diagonal masks, plain rows padded; the
    validation rows may be either. `train.early_stopping.metric` must be `loss`.
    """
    config = model.config
    use_cache, config.use_cache = config.use_cache, False  # no KV cache while training; restored for generation
    try:
        return training.fit(
            model,
            train_rows,
            val_rows,
            Collator(pad_token_id, config._attn_implementation),
            options,
            checkpoint_dir,
            live_dir,
            class_weights=None,
            resume=resume,
            fingerprint=fingerprint,
            callbacks=callbacks,
            causal_lm=True,
        )
    finally:
        config.use_cache = use_cache
