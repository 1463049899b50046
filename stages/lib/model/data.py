"""The rows every approach trains on: tokenised train and validation splits, labels and class weights."""

from __future__ import annotations

from pathlib import Path

from schemas.train import TrainParams
from stages.lib.core.errors import StageError
from stages.lib.model.approaches.common import Data
from stages.lib.model.textclf import class_weight_tensor, encode, label_set, load_tokenizer, read_split


def prepare_data(
    data_dir: Path,
    base_dir: Path,
    class_weights: str | Path,
    train: TrainParams,
    trust_remote_code: bool = False,
    reserve: int = 0,
) -> Data:
    """Tokenised train and validation rows, the label set (from the train split) and the class weights.

    `reserve` positions are kept free for the virtual tokens that prompt tuning prepends.
    """
    for path in (data_dir / "train.parquet", data_dir / "validation.parquet", base_dir):
        if not path.exists():
            raise StageError(f"{path} not found (paths.train.data_dir / paths.base_model.out); run the stages before")
    _, train_texts, train_labels = read_split(data_dir / "train.parquet")
    _, val_texts, val_labels = read_split(data_dir / "validation.parquet")
    labels = label_set(train_labels)
    if len(labels) < 2:
        raise StageError(f"{data_dir}/train.parquet has {len(labels)} label(s) {labels}; a classifier needs 2 or more")
    index = {label: i for i, label in enumerate(labels)}
    train_pairs = [(t, index[y]) for t, y in zip(train_texts, train_labels) if y is not None]
    val_pairs = [(t, index[y]) for t, y in zip(val_texts, val_labels) if y in index]
    if not val_pairs:
        raise StageError(f"{data_dir}/validation.parquet has no rows with a training label; early stopping needs some")
    tokenizer = load_tokenizer(base_dir, trust_remote_code)
    max_length = min(train.max_length, tokenizer.model_max_length - reserve)
    try:
        weights = class_weight_tensor(class_weights, labels) if train.class_weights else None
    except ValueError as exc:
        raise StageError(str(exc)) from None
    return Data(
        tokenizer=tokenizer,
        train_rows=encode(tokenizer, [t for t, _ in train_pairs], [y for _, y in train_pairs], max_length),
        val_rows=encode(tokenizer, [t for t, _ in val_pairs], [y for _, y in val_pairs], max_length),
        labels=labels,
        class_weights=weights,
        max_length=max_length,
        dropped={
            "train_no_label": len(train_texts) - len(train_pairs),
            "validation_no_label": sum(1 for y in val_labels if y is None),
            "validation_unseen_label": sum(1 for y in val_labels if y is not None and y not in index),
        },
    )
