"""File names inside the folders that stages hand to each other: the folder contracts, named once.

split, augment and balance each write a folder of the four split files (and balance its class weights);
base_model, train, evaluate, compare and curve read files of those folders by these names. A leaf module
(no imports), so schemas/paths.py derives its file paths from a folder with the same names the stages use,
and dvc.yaml spells them after `${paths.<stage>.<folder>}/` (tests/test_dvc_yaml.py checks it).
"""

from __future__ import annotations

import posixpath

SPLITS = ("train", "validation", "test", "unlabeled")
CLASS_WEIGHTS_FILE = "class_weights.json"


def split_file(folder: str, split: str) -> str:
    """`<folder>/<split>.parquet`, written with `/` as dvc.yaml writes it."""
    if split not in SPLITS:
        raise ValueError(f"{split!r} is not a split file; the splits are {', '.join(SPLITS)}")
    return posixpath.join(folder, f"{split}.parquet")


def class_weights_file(folder: str) -> str:
    """`<folder>/class_weights.json`, the loss weights the balance stage writes beside the splits."""
    return posixpath.join(folder, CLASS_WEIGHTS_FILE)
