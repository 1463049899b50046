"""predict's model side: a trained approach or compare's TF-IDF baseline, checked against the text settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger
from stages.lib.model.inference import load_trained, predict_proba
from stages.lib.model.tfidf import NAME as TFIDF
from stages.lib.model.tfidf import load_baseline
from stages.lib.text.fingerprint import check_model_text

log = get_logger("predict")


def predict_texts(
    approach: str, texts: list[str], params: Any, batch_size: int, text: Mapping[str, Any]
) -> tuple[Any, list[str]]:
    """(class probabilities per text, the labels in column order) from a trained approach or the TF-IDF baseline.

    Raises StageError when the model is missing or recorded text settings other than `text` (the fingerprint
    of the settings the texts were just prepared with).
    """
    if approach == TFIDF:
        pipeline, meta = load_baseline(params.paths.compare.baseline_model)
        check_text(meta, text, params.paths.compare.baseline_model)
        return (pipeline.predict_proba(texts) if texts else np.zeros((0, len(meta["labels"])))), meta["labels"]
    model_dir = Path(params.paths.train.models_dir) / approach
    try:
        model, tokenizer, meta = load_trained(model_dir, params.paths.base_model.out, params.model.trust_remote_code)
    except FileNotFoundError as exc:
        raise StageError(str(exc)) from None
    check_text(meta, text, model_dir)
    with torch.no_grad():
        probs = predict_proba(model, tokenizer, texts, meta["max_length"], batch_size)
    return probs, meta["labels"]


def check_text(meta: Mapping[str, Any], text: Mapping[str, Any], model: str | Path) -> None:
    """StageError when the model folder recorded other text settings; library versions or no record: a warning."""
    for warning in check_model_text(meta.get("text"), text, str(model)):
        log.warning("%s", warning)
