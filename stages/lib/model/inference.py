"""A trained approach outside the pipeline: load models/<approach>/ with models/base/, predict probabilities.

from stages.lib.model.inference import load_trained, predict_proba
model, tokenizer, meta = load_trained("models/full", "models/base")
probs = predict_proba(model, tokenizer, ["WIN a FREE prize, call now"], meta["max_length"])
dict(zip(meta["labels"], probs[0]))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stages.lib.model.approaches import KINDS
from stages.lib.model.approaches.common import read_meta
from stages.lib.model.manifest import verify_model_folder
from stages.lib.model.textclf import META_FILE, batched_forward, encode, load_tokenizer, softmax_np


def load_trained(model_dir: str | Path, base_dir: str | Path, trust_remote_code: bool = False):
    """(model in eval mode, tokenizer, meta) of a trained approach folder; FileNotFoundError when it holds none."""
    model_dir, base_dir = Path(model_dir), Path(base_dir)
    if not (model_dir / META_FILE).is_file():
        raise FileNotFoundError(f"{model_dir} holds no trained model ({META_FILE} missing); run train@<approach>")
    verify_model_folder(model_dir, f"run dvc repro train@{model_dir.name}", KINDS)
    verify_model_folder(base_dir, "run dvc repro base_model")
    meta = read_meta(model_dir)
    model = KINDS[meta["kind"]].load(model_dir, base_dir, meta, trust_remote_code)
    return model.eval(), load_tokenizer(base_dir, trust_remote_code), meta


def predict_proba(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 128
) -> np.ndarray:
    """Class probabilities (rows: texts, columns: meta["labels"] order)."""
    rows = encode(tokenizer, list(texts), None, max_length)
    if not rows:
        return np.zeros((0, model.head.layers[-1].out_features), dtype=np.float32)
    logits = batched_forward(lambda i, m: model(i, m)["logits"], rows, tokenizer, batch_size)
    return softmax_np(logits)
