"""A Hugging Face DatasetDict saved with `save_to_disk`, byte-deterministically (fingerprints from the data)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def chat_features() -> Any:
    """Features of an exported SFT split: id, source, messages, and render's token counts."""
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "source": Value("string"),
            "messages": List({"role": Value("string"), "content": Value("string")}),
            "n_tokens": Value("int32"),
            "n_trained": Value("int32"),
        }
    )


def classification_features(labels: list[str]) -> Any:
    """Features of an exported classification split: the label as a ClassLabel over `labels` (sorted)."""
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "source": Value("string"),
            "text": Value("string"),
            "label": ClassLabel(names=sorted(labels)),
        }
    )


def save_dataset_dict(splits: Mapping[str, list[dict[str, Any]]], features: Any, folder: Path) -> None:
    """Save `splits` (name -> rows) as a DatasetDict in `folder`; same rows, same bytes (no cache, no random
    fingerprint: each split's fingerprint is a hash of its rows)."""
    from datasets import Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    parts = {}
    for name, rows in splits.items():
        ds = Dataset.from_list(list(rows), features=features)
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        parts[name] = Dataset(ds.data, info=ds.info, split=name, fingerprint=digest)
    DatasetDict(parts).save_to_disk(str(folder))
