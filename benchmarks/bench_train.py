"""Fine-tuning speed and memory, side by side with what a user would write by hand.

    pytest benchmarks/bench_train.py --benchmark-only -s

1. Framework overhead: Refinery's train stage against a bare Trainer script, same tiny model, data and steps
   (target: samples/s within 5%).
2. Feature-based with cached embeddings against the frozen-backbone Trainer run: time per epoch
   (target: at least 10x) on the SMS sample.
3. Peak memory and trainable fraction per approach, each in its own process.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SMS = REPO / "data/sample/sms_spam_collection/SMSSpamCollection"
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.string()), ("source", pa.string())])


def sms_split(folder: Path, n_train: int, n_val: int) -> Path:
    """The first rows of the SMS sample as train/validation/test files (speed only: no stratification needed)."""
    rows = []
    for i, line in enumerate(SMS.read_text(encoding="utf-8").splitlines()):
        label, text = line.split("\t", 1)
        rows.append({"id": f"{i:05d}", "text": text, "label": label, "source": "sms"})
    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "train": rows[:n_train],
        "validation": rows[n_train : n_train + n_val],
        "test": rows[n_train + n_val : n_train + 2 * n_val],
        "unlabeled": [],
    }
    for name, part in parts.items():
        pq.write_table(pa.Table.from_pylist(part, schema=SCHEMA), folder / f"{name}.parquet")
    (folder / "class_weights.json").write_text(json.dumps({"class_weights": None}))
    return folder


def base(root: Path, hidden: int) -> tuple:
    from schemas.model import ModelParams
    from schemas.paths import BaseModelPaths
    from stages import base_model

    cfg = ModelParams.model_validate(
        {
            "scratch": {
                "hidden_size": hidden,
                "num_heads": 4,
                "intermediate_size": 4 * hidden,
                "num_layers": 2,
                "steps": 20,
                "vocab_size": 4000,
            }
        }
    )
    paths = BaseModelPaths(out=str(root / "base"), metrics=str(root / "base.json"))
    base_model.run(cfg, paths, str(root / "data"))
    return cfg, paths


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    sms_split(root / "data", 3900, 800)
    cfg, paths = base(root, 128)
    return root, cfg, paths


def train_paths(root: Path, sub: str):
    from schemas.paths import TrainPaths

    return TrainPaths(
        data_dir=str(root / "data"),
        models_dir=str(root / sub / "models"),
        metrics_dir=str(root / sub / "m"),
        live_dir=str(root / sub / "live"),
        checkpoints_dir=str(root / sub / "ck"),
    )


def bare_trainer(root: Path, steps: int, batch: int) -> float:
    """What a user writes by hand: a sequence-classification model and a plain Trainer that, like the stage,
    evaluates, checkpoints and reloads the best model once at the end. Returns samples/s."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    torch.set_num_threads(1)
    set_seed(0)
    tok = AutoTokenizer.from_pretrained(str(root / "base"))
    labels = sorted({r["label"] for r in pq.read_table(root / "data/train.parquet").to_pylist()})

    def encoded(split: str) -> list[dict]:
        table = pq.read_table(root / f"data/{split}.parquet").to_pylist()
        enc = tok([r["text"] for r in table], truncation=True, max_length=64)
        return [
            {"input_ids": i, "attention_mask": m, "labels": labels.index(r["label"])}
            for i, m, r in zip(enc["input_ids"], enc["attention_mask"], table)
        ]

    model = AutoModelForSequenceClassification.from_pretrained(
        str(root / "base"), num_labels=len(labels), use_safetensors=True
    )
    args = TrainingArguments(
        output_dir=str(root / "bare"),
        max_steps=steps,
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=128,
        learning_rate=1e-4,
        report_to="none",
        eval_strategy="steps",
        eval_steps=steps,
        save_strategy="steps",
        save_steps=steps,
        load_best_model_at_end=True,
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=encoded("train"),
        eval_dataset=encoded("validation"),
        data_collator=DataCollatorWithPadding(tok),
    )
    return trainer.train().metrics["train_samples_per_second"]


def test_overhead_against_a_bare_trainer(benchmark, project):
    """Same model size, data and steps; Refinery adds validation, checkpoint, dvclive and early stopping once."""
    from schemas.approaches import FullApproach
    from schemas.train import TrainParams
    from stages import train

    root, cfg, paths = project
    steps = 60
    params = TrainParams(max_steps=steps, eval_steps=steps, save_steps=steps, batch_size=32)
    results: dict[str, list[float]] = {"refinery": [], "bare": []}

    def both():
        m = train.run("full", FullApproach(kind="full"), params, cfg, train_paths(root, "ours"), paths)
        results["refinery"].append(m["samples_per_second"])
        results["bare"].append(bare_trainer(root, steps, 32))

    benchmark.pedantic(both, rounds=3, iterations=1)
    ours, bare = max(results["refinery"]), max(results["bare"])
    benchmark.extra_info |= {"refinery_samples_per_s": ours, "bare_samples_per_s": bare, "ratio": ours / bare}
    print(f"\nsamples/s: refinery {ours:.1f}, bare Trainer {bare:.1f}, ratio {ours / bare:.3f}")


def test_cached_features_against_frozen_backbone_per_epoch(benchmark, project):
    from schemas.approaches import FeatureApproach
    from schemas.train import TrainParams
    from stages import train

    root, cfg, paths = project
    timings: dict[str, list[float]] = {"cached": [], "frozen": []}

    def both():
        for cache, epochs in ((True, 5), (False, 1)):
            approach = FeatureApproach(kind="feature", cache_embeddings=cache, epochs=epochs)
            params = TrainParams(eval_steps=10_000, save_steps=10_000, early_stopping={"patience": None})
            start = time.perf_counter()
            m = train.run("feature", approach, params, cfg, train_paths(root, f"feat{cache}"), paths)
            total = time.perf_counter() - start
            per_epoch = (m["steps"] * 32 / m["samples_per_second"]) / epochs  # head (or model) training only
            timings["cached" if cache else "frozen"].append(per_epoch)
            if cache:
                timings.setdefault("cached_total", []).append(total)
            else:
                timings.setdefault("frozen_total", []).append(total)

    benchmark.pedantic(both, rounds=2, iterations=1)
    cached, frozen = min(timings["cached"]), min(timings["frozen"])
    benchmark.extra_info |= {"cached_epoch_s": cached, "frozen_epoch_s": frozen, "speedup": frozen / cached}
    print(
        f"\nper epoch: cached features {cached:.3f}s, frozen-backbone Trainer {frozen:.3f}s, "
        f"speed-up {frozen / cached:.1f}x; whole stage: cached 5 epochs {min(timings['cached_total']):.1f}s, "
        f"frozen 1 epoch {min(timings['frozen_total']):.1f}s"
    )


SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from schemas.approaches import KINDS
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths, TrainPaths
from schemas.train import TrainParams
from stages import train
root = Path({root!r})
approach = KINDS[{kind!r}].model_validate({{"kind": {kind!r}}})
paths = TrainPaths(data_dir=str(root / "data"),
                   models_dir=str(root / "mem/models"), metrics_dir=str(root / "mem/m"), live_dir=str(root / "mem/l"),
                   checkpoints_dir=str(root / "mem/ck"))
base = BaseModelPaths(out=str(root / "base"))
m = train.run({kind!r}, approach, TrainParams(max_steps=60, eval_steps=60, save_steps=60), ModelParams(), paths, base)
print(json.dumps(m))
"""


def test_peak_memory_and_trainable_fraction_per_approach(benchmark, project):
    root, _, _ = project
    table = []

    def each():
        for kind in ("feature", "full", "adapter"):
            code = SCRIPT.format(repo=str(REPO), root=str(root), kind=kind)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            m = json.loads(out.strip().splitlines()[-1])
            table.append((kind, m["trainable_params"], m["trainable_fraction"], m["peak_memory_mb"]))

    benchmark.pedantic(each, rounds=1, iterations=1)
    writer = csv.writer(sys.stdout, delimiter="|")
    print("\napproach | trainable params | trainable fraction | peak RSS MB (own process, 60 steps)")
    for row in table:
        writer.writerow(row)
    benchmark.extra_info["table"] = table
