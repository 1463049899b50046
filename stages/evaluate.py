"""evaluate@<approach>: score one trained approach on the test split.

Writes metrics/eval/<approach>.json (macro-F1, accuracy) and
metrics/details/eval/<approach>.json (also weighted F1, MCC, ECE, per-class
precision/recall/F1 and the confusion counts), the predictions with every class probability
as Parquet for error analysis, and the rows of a confusion-matrix plot.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import torch

from schemas import load_params
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths, EvaluatePaths, TrainPaths
from schemas.train import TrainParams
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import write_json, write_parquet
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.evaluation import classification_report
from stages.lib.model.inference import load_trained
from stages.lib.model.textclf import batched_forward, encode, read_split, softmax_np

log = get_logger("evaluate")

# What `dvc metrics show` lists per approach; per-class scores, MCC and ECE are in the details file.
HEADLINE = ("macro_f1", "accuracy")


def run(
    name: str,
    train: TrainParams,
    model_cfg: ModelParams,
    paths: EvaluatePaths,
    train_paths: TrainPaths,
    base_paths: BaseModelPaths,
) -> dict[str, Any]:
    """Predict the test split with models/<name>/, write predictions and confusion rows, return the metrics."""
    torch.set_num_threads(model_cfg.num_threads)
    try:
        model, tokenizer, meta = load_trained(
            Path(train_paths.models_dir) / name, base_paths.out, model_cfg.trust_remote_code
        )
    except FileNotFoundError as exc:  # no model folder, or one missing a file
        raise StageError(f"run train@{name} first: {exc}") from None
    ids, texts, actual = read_split(train_paths.split("test"))
    rows = encode(tokenizer, texts, None, meta["max_length"])
    labels: list[str] = meta["labels"]
    start = time.perf_counter()
    logits = batched_forward(lambda i, m: model(i, m)["logits"], rows, tokenizer, train.eval_batch_size)
    seconds = time.perf_counter() - start
    probs = softmax_np(logits) if len(rows) else torch.zeros(0, len(labels)).numpy()
    predicted = [labels[i] for i in probs.argmax(axis=1)] if len(rows) else []
    scored = [(i, a, p, pr) for i, a, p, pr in zip(ids, actual, predicted, probs) if a is not None]
    metrics = classification_report(
        [a for _, a, _, _ in scored],
        [p for _, _, p, _ in scored],
        labels,
        probs[[k for k, a in enumerate(actual) if a is not None]] if scored else probs,
    )
    metrics["n_unlabeled"] = len(actual) - len(scored)  # predicted (see the predictions file) but not scored
    # Forward passes only (tokenising is done before), batches of train.eval_batch_size, this stage's threads.
    metrics["predict_seconds_per_1000"] = round(1000 * seconds / max(len(rows), 1), 4)
    table = pa.table(
        {
            "id": ids,
            "text": texts,
            "label": pa.array(actual, pa.string()),
            "predicted": pa.array(predicted, pa.string()),
            "confidence": pa.array([float(p.max()) for p in probs], pa.float64()),
            "correct": pa.array([a == p if a is not None else None for a, p in zip(actual, predicted)], pa.bool_()),
            **{f"prob_{label}": pa.array([float(p[j]) for p in probs], pa.float64()) for j, label in enumerate(labels)},
        }
    ).sort_by("id")
    write_parquet(table, Path(paths.predictions_dir) / f"{name}.parquet")
    confusion = [{"actual": a, "predicted": p} for i, a, p, _ in sorted(scored, key=lambda s: s[0])]
    write_json(confusion, Path(paths.confusion_dir) / f"{name}.json")
    # The plot shows each true class's row as shares; the counts stay here, every pair written (zeros too).
    metrics["confusion"] = {
        a: {p: sum(1 for _, x, y, _ in scored if x == a and y == p) for p in labels} for a in sorted(set(labels))
    }
    log.info(
        "%s: macro-F1 %.4f, accuracy %.4f on %d test rows",
        name,
        metrics["macro_f1"],
        metrics["accuracy"],
        metrics["n_test"],
    )
    return metrics


def main() -> None:
    if len(sys.argv) != 2:
        raise StageError("usage: python -m stages.evaluate <approach>")
    params = load_params(check_peft=True)
    name = sys.argv[1]
    if name not in params.approaches:
        raise StageError(f"approach '{name}' is not in params.yaml approaches: {', '.join(params.approaches)}")
    p = params.paths
    if params.task == "sft":  # loss, greedy answers and their scores: stages/lib/model/causal/stage.py
        from stages.lib.model.causal import stage as sft

        metrics = sft.run_evaluate(name, params)
        write_metrics(metrics, sft.EVAL_HEADLINE, Path(p.evaluate.metrics_dir) / f"{name}.json",
                      Path(p.evaluate.details_dir) / f"{name}.json", p.timings, f"eval/{name}")  # fmt: skip
        return
    metrics = run(name, params.train, params.model, p.evaluate, p.train, p.base_model)
    target = f"{name}.json"
    write_metrics(
        metrics,
        HEADLINE,
        Path(p.evaluate.metrics_dir) / target,
        Path(p.evaluate.details_dir) / target,
        p.timings,
        f"eval/{name}",
    )


if __name__ == "__main__":
    cli(main)
