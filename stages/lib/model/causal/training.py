"""Fine-tune a causal LM on render's rows with the one training loop every approach uses.

Checkpoints, resume, best-validation selection (by validation loss), early stopping, seeds, thread pinning,
precision flags and dvclive curves are those of stages.lib.model.training.fit; this module only feeds it
render's rows through the padded or packed collator.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stages.lib.model import training
from stages.lib.model.causal.data import Collator


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
