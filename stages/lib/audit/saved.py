"""The audit's fitted model as an output: review and monitor read it instead of refitting.

The TF-IDF + logistic regression of `audit.tfidf` and `audit.classifier`, fitted on every audited row, saved in
stages/lib/model/tfidf.py's plain-data format (safetensors + JSON, a manifest), with `oof.parquet` beside it:
each audited row's out-of-fold probabilities, the held-out predictions monitor compares a new batch with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from stages.lib.core.io import read_rows, write_table
from stages.lib.model.tfidf import load_baseline, save_baseline

OOF_FILE = "oof.parquet"  # beside the fitted model: each audited row's out-of-fold probabilities
FIX = "run the audit stage first (dvc repro audit)"


def save_model(folder: Path, model, settings: dict, rows: Sequence[dict], probs: np.ndarray, fold: np.ndarray) -> None:
    """The fitted TF-IDF + logistic regression (stages/lib/model/tfidf.py's plain-data format, `settings` =
    `{"features": audit.tfidf, "classifier": audit.classifier}`) and `oof.parquet` (id, split, fold, label,
    probs in the model's label order), listed together in the folder's manifest. Write inside `atomic_path`."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.string()),
            "split": pa.array([r["split"] for r in rows], pa.string()),
            "fold": pa.array(fold.tolist(), pa.int64()),
            "label": pa.array([r["label"] for r in rows], pa.string()),
            "probs": pa.array(np.round(probs, 6).tolist(), pa.list_(pa.float64())),
        }
    )
    write_table(table, folder / OOF_FILE)
    save_baseline(model, settings, folder)


def load_model(folder: str | Path):
    """(pipeline ready to predict, meta with `labels`) from `save_model`'s folder; StageError naming the fix."""
    return load_baseline(folder, FIX)


def reference_probs(folder: str | Path, split: str) -> np.ndarray:
    """Out-of-fold probabilities of the audited rows of `split` (all audited rows when none is of it): held-out
    predictions to compare a new batch with. Call after `load_model`, which verifies the folder."""
    table = read_rows(Path(folder) / OOF_FILE).to_pydict()
    mine = [p for p, s in zip(table["probs"], table["split"]) if s == split] or table["probs"]
    return np.asarray(mine, dtype=float)
