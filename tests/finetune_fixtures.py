"""Tiny data and a tiny scratch base model for the fine-tuning tests (2 layers, hidden 32, a few steps)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DVCLIVE_OPEN", "false")

SPAM = [
    "WIN a FREE prize now, call 0800 to claim your cash",
    "URGENT you have won a free holiday, text WIN to 80082",
    "Free entry in a weekly cash draw, reply CLAIM now",
    "Congratulations! Claim your free mobile prize, call now",
    "You won 1000 cash, text PRIZE to claim before midnight",
    "FREE ringtones! Reply WIN to get your prize today",
    "Cash prize waiting, call 09061 now to claim it free",
    "Last chance: win a free camera phone, text YES now",
]
HAM = [
    "are we still meeting for lunch tomorrow",
    "ok see you at home later, love you",
    "i will be late, the bus is stuck in traffic",
    "can you pick up some milk on the way back",
    "sorry i missed your call, talk tonight",
    "happy birthday! hope you have a lovely day",
    "what time does the film start tonight",
    "thanks for dinner, it was really nice",
    "my phone died, call me on the home number",
    "did you finish the homework for monday",
    "lets go for a walk in the park after work",
    "mum says hi and asks when you are coming",
]

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("label", pa.string()),
        ("source", pa.string()),
        ("split", pa.string()),
    ]
)


def rows(split: str, n_spam: int, n_ham: int, offset: int = 0) -> list[dict[str, Any]]:
    """Labeled rows cycling through the templates, each made distinct by a counter."""
    out = []
    for i in range(n_spam):
        out.append({"text": f"{SPAM[(i + offset) % len(SPAM)]} {i + offset}", "label": "spam"})
    for i in range(n_ham):
        out.append({"text": f"{HAM[(i + offset) % len(HAM)]} {i + offset}", "label": "ham"})
    return [r | {"id": f"{split}-{k:03d}", "source": "t", "split": split} for k, r in enumerate(out)]


def write_split(folder: Path, class_weights: dict[str, float] | None = None) -> Path:
    """A data/balanced-like folder: train (30), validation (12), test (12), unlabeled (4), class_weights.json."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "train": rows("train", 10, 20),
        "validation": rows("validation", 4, 8, offset=3),
        "test": rows("test", 4, 8, offset=5),
        "unlabeled": [r | {"label": None} for r in rows("unlabeled", 2, 2, offset=7)],
    }
    for name, part in parts.items():
        pq.write_table(pa.Table.from_pylist(part, schema=SCHEMA), folder / f"{name}.parquet")
    (folder / "class_weights.json").write_text(json.dumps({"class_weights": class_weights}))
    return folder


def tiny_model_params(steps: int = 4) -> dict[str, Any]:
    """`model` section for a 2-layer, 32-wide scratch model."""
    return {
        "source": "scratch",
        "num_threads": 1,
        "scratch": {
            "vocab_size": 300,
            "min_frequency": 1,
            "hidden_size": 32,
            "num_layers": 2,
            "num_heads": 2,
            "intermediate_size": 64,
            "max_length": 32,
            "steps": steps,
            "batch_size": 8,
            "learning_rate": 1e-3,
            "warmup_steps": 1,
            "seed": 0,
        },
    }


def tiny_train_params(**overrides: Any) -> dict[str, Any]:
    """`train` section: a few steps, evaluation and checkpoints every 2 steps."""
    return {
        "epochs": 1,
        "max_steps": 6,
        "batch_size": 8,
        "eval_batch_size": 16,
        "max_length": 32,
        "eval_steps": 2,
        "save_steps": 2,
        "logging_steps": 2,
        "warmup_ratio": 0.0,
        "seed": 0,
        "resume": True,
        "early_stopping": {"metric": "macro_f1", "patience": None},
    } | overrides
