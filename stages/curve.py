"""curve: learning curves, i.e. which approach for how much labelled data and compute.

Trains every approach of `curve.approaches` on nested, stratified, group-aware
subsets of the train split (`curve.fractions`; `curve.seeds` seeds at the small
ones), with the validation and test splits unchanged, and the TF-IDF baseline
of `compare.baseline` on the same subsets. Records test macro-F1, training time
and peak memory per run; fits error = a*n^b + c per approach with a bootstrap
interval on b; reports where the curves cross, the rows each approach would
need for `curve.target_macro_f1`, and checks the fit by predicting the largest
subset from the smaller ones. Writes metrics/curve.json, plots/curve.json (one
line per approach, log x) and reports/curve.md. With `task: sft` the same for
causal LMs on nested subsets of the train conversations (stages/lib/model/causal/curve.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from schemas import load_params
from schemas.compare import TfidfBaseline
from schemas.curve import CurveParams
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths, CurvePaths, TrainPaths
from schemas.train import TrainParams
from stages.lib.core.errors import StageError, cli
from stages.lib.core.folders import split_file
from stages.lib.core.io import atomic_path, write_json
from stages.lib.core.log import get_logger
from stages.lib.curve.analysis import analyse
from stages.lib.curve.report import OFF_NOTE, plot_rows, render, write_off
from stages.lib.curve.runs import approach_run, tfidf_run, write_subset
from stages.lib.curve.subsets import nested_subsets
from stages.lib.model.baselines import majority_score
from stages.lib.model.pretrain import build_scratch, pretraining_corpus
from stages.lib.model.textclf import read_split

log = get_logger("curve")


def run(
    cfg: CurveParams,
    train: TrainParams,
    model_cfg: ModelParams,
    baseline: TfidfBaseline,
    paths: CurvePaths,
    train_paths: TrainPaths,
    base_paths: BaseModelPaths,
    split_dir: str,
) -> dict[str, Any]:
    """Train every (approach, fraction, seed), fit the curves, write the runs and the report; return the metrics.

    With `curve.enabled: false` it trains nothing and writes outputs that say so (deterministic, so a plain
    `dvc repro` stays cheap and leaves the committed outputs unchanged).
    """
    if not cfg.enabled:
        log.info("curve.enabled is false: nothing trained")
        return write_off(paths.report, paths.runs, OFF_NOTE, paths.base)
    import torch

    torch.set_num_threads(model_cfg.num_threads)
    data_dir = Path(train_paths.data_dir)
    table = pq.read_table(train_paths.split("train"))
    labels = table.column("label").to_pylist()
    if cfg.group_by is not None and cfg.group_by not in table.column_names:
        raise StageError(f"curve.group_by: {cfg.group_by} is not a column of {data_dir}/train.parquet")
    groups = table.column(cfg.group_by).to_pylist() if cfg.group_by else table.column("id").to_pylist()
    groups = [g if g is not None else f"row:{i}" for i, g in enumerate(groups)]
    _, test_texts, test_labels = read_split(train_paths.split("test"))
    scored = [i for i, y in enumerate(test_labels) if y is not None]
    scored_texts, scored_labels = [test_texts[i] for i in scored], [test_labels[i] for i in scored]
    base_dir = _base(cfg, model_cfg, paths, base_paths, split_dir)
    work = Path(paths.work)
    runs: list[dict[str, Any]] = []
    for k in range(cfg.seeds):
        fractions = [f for f in cfg.fractions if k == 0 or f <= cfg.seeds_up_to]
        subsets = nested_subsets(labels, groups, fractions, seed=train.seed + k)
        for fraction in sorted(fractions):
            rows = subsets[fraction]
            folder = work / f"seed{k}" / f"{fraction:g}"
            write_subset(table, rows, data_dir, folder)
            runs.append(tfidf_run(baseline, table, rows, scored_texts, scored_labels, fraction, k))
            for name, approach in cfg.approaches.items():
                runs.append(
                    approach_run(
                        name, approach, train, model_cfg, folder, train_paths.class_weights, base_dir, work,
                        scored_texts, scored_labels, fraction, k, len(rows),
                    )
                )  # fmt: skip
                log.info("%s on %d rows (seed %d): macro-F1 %.4f", name, len(rows), k, runs[-1]["macro_f1"])
    shutil.rmtree(work, ignore_errors=True)
    runs.sort(key=lambda r: (r["approach"], r["train_rows"], r["seed"]))
    actual = [test_labels[i] for i in scored]
    majority = majority_score(read_split(split_file(split_dir, "train"))[2], actual, "macro_f1")  # before augment
    metrics = analyse(runs, cfg, majority)
    write_json(plot_rows(runs), paths.runs)
    with atomic_path(paths.report) as tmp:
        tmp.write_text(render(runs, metrics, cfg))
    metrics["runs"] = runs
    return metrics


def _base(
    cfg: CurveParams, model_cfg: ModelParams, paths: CurvePaths, base_paths: BaseModelPaths, split_dir: str
) -> Path:
    if cfg.base == "base_model":
        if not Path(base_paths.out).is_dir():
            raise StageError(f"{base_paths.out} not found; run base_model first (or set curve.base: scratch)")
        return Path(base_paths.out)
    texts = pretraining_corpus(split_dir)
    with atomic_path(paths.base) as tmp:
        tmp.mkdir(parents=True)
        log.info("pre-training the curve's scratch model on %d texts", len(texts))
        build_scratch(texts, model_cfg.scratch, tmp)
    # Inside a stage the rename into paths.base waits until all the stage's outputs are written (one switch,
    # see stages/lib/core/io.py): until then the model is in the staged folder.
    return tmp if tmp.is_dir() else Path(paths.base)


def main() -> None:
    params = load_params(check_peft=True)
    p = params.paths
    if params.task == "sft":  # causal LMs on nested subsets of render's conversations: stages/lib/model/causal/curve.py
        from stages.lib.model.causal.curve import run_sft_curve

        write_json(run_sft_curve(params), p.curve.metrics)
        return
    metrics = run(
        params.curve, params.train, params.model, params.compare.baseline, p.curve, p.train, p.base_model, p.split.dir
    )
    metrics.pop("runs")
    write_json(metrics, p.curve.metrics)


if __name__ == "__main__":
    cli(main)
