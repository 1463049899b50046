"""One learning-curve run: the TF-IDF baseline or an approach trained on one subset, scored on the test split.

The approach trains exactly as train@<approach> does (stages.lib.model.train_one), with the seed of the
curve's repeat, no resume and no learning curves of its own.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.metrics import f1_score

from schemas.compare import TfidfBaseline
from schemas.model import ModelParams
from schemas.train import TrainParams
from stages.lib.core.folders import split_file
from stages.lib.model.inference import predict_proba
from stages.lib.model.textclf import count_params, peak_memory_mb
from stages.lib.model.tfidf import baseline_pipeline
from stages.lib.model.train_one import load_data, train_one

TFIDF = "tfidf_logreg"


def write_subset(table: pa.Table, rows: list[int], data_dir: Path, folder: Path) -> None:
    """A data folder of the subset: its train rows and the full validation split (copied byte for byte)."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.take(rows), split_file(str(folder), "train"))
    shutil.copyfile(split_file(str(data_dir), "validation"), split_file(str(folder), "validation"))


def tfidf_run(
    baseline: TfidfBaseline,
    table: pa.Table,
    rows: list[int],
    test_texts: list[str],
    test_labels: list[str],
    fraction: float,
    k: int,
) -> dict[str, Any]:
    """The TF-IDF baseline fitted on the subset's labelled rows."""
    texts, labels = table.column("text").to_pylist(), table.column("label").to_pylist()
    pairs = [(texts[i], labels[i]) for i in rows if labels[i] is not None]
    pipe = baseline_pipeline(baseline)
    start = time.perf_counter()
    pipe.fit([t for t, _ in pairs], [y for _, y in pairs])
    seconds = time.perf_counter() - start
    f1 = f1_score(test_labels, pipe.predict(test_texts), average="macro", zero_division=0)
    return run_row(TFIDF, fraction, k, len(rows), f1, seconds, None, int(pipe[-1].coef_.size))


def approach_run(
    name: str,
    approach: Any,
    train: TrainParams,
    model_cfg: ModelParams,
    folder: Path,
    class_weights: str | Path,
    base_dir: Path,
    work: Path,
    test_texts: list[str],
    test_labels: list[str],
    fraction: float,
    k: int,
    n_rows: int,
) -> dict[str, Any]:
    """Approach `name` trained on the subset in `folder` with seed `train.seed + k`."""
    seeded = train.model_copy(update={"seed": train.seed + k})
    data = load_data(approach, seeded, model_cfg, folder, base_dir, class_weights)
    trained = train_one(approach, data, seeded, model_cfg, base_dir, work / "checkpoints")
    model = trained.model.eval()
    probs = predict_proba(model, data.tokenizer, test_texts, data.max_length, seeded.eval_batch_size)
    predicted = [data.labels[int(p.argmax())] for p in probs]
    f1 = f1_score(test_labels, predicted, average="macro", zero_division=0)
    return run_row(name, fraction, k, n_rows, f1, trained.seconds, peak_memory_mb(), count_params(model)[0])


def run_row(approach, fraction, seed, rows, f1, seconds, memory, trainable) -> dict[str, Any]:
    return {
        "approach": approach,
        "fraction": fraction,
        "seed": seed,
        "train_rows": rows,
        "macro_f1": round(float(f1), 6),
        "train_seconds": round(seconds, 2),
        "peak_memory_mb": None if memory is None else round(memory, 1),
        "trainable_params": trainable,
    }
