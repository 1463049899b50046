"""The retrieval baseline: answer each prompt with the reference answer of the most similar train prompt.

The SFT counterpart of the TF-IDF classifier: word n-gram TF-IDF vectors of the train prompts, cosine
similarity (the vectors are L2-normalised, so a dot product), ties to the first train row in the given order.
It uses scikit-learn's TfidfVectorizer directly: stages/lib/model/tfidf.py builds the classifier baseline (word
and character vectorizers feeding a logistic regression), which has no nearest-neighbour step to reuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def fit_retrieval(
    train_prompts: Sequence[str],
    *,
    ngram_range: tuple[int, int],
    min_df: int,
    sublinear_tf: bool,
    lowercase: bool,
) -> tuple[Any, Any]:
    """(fitted vectorizer, train prompt matrix) of the `retrieval` settings."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not train_prompts:
        raise ValueError("the retrieval baseline needs at least one train prompt; the train split is empty")
    vectorizer = TfidfVectorizer(
        analyzer="word", ngram_range=tuple(ngram_range), min_df=min_df, sublinear_tf=sublinear_tf, lowercase=lowercase
    )
    return vectorizer, vectorizer.fit_transform(list(train_prompts))


def nearest(vectorizer: Any, train_matrix: Any, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(index of the most similar train prompt, its cosine similarity) for each prompt; a prompt sharing no
    term with any train prompt gets index 0 and similarity 0."""
    similarity = (vectorizer.transform(list(prompts)) @ train_matrix.T).toarray()
    best = similarity.argmax(axis=1)  # the first maximum: ties go to the earliest train row
    return best, similarity[np.arange(len(best)), best]


def retrieval_answers(
    train_prompts: Sequence[str],
    train_answers: Sequence[str],
    prompts: Sequence[str],
    *,
    ngram_range: tuple[int, int],
    min_df: int,
    sublinear_tf: bool,
    lowercase: bool,
    tokenizer: Any = None,
) -> list[dict[str, Any]]:
    """Per prompt: `generation` (the nearest train row's answer), `train_index`, `similarity`, `stopped` (always
    True: a retrieved answer ends) and `generated_tokens` (the answer's tokens under `tokenizer`; words without)."""
    if len(train_prompts) != len(train_answers):
        raise ValueError(f"{len(train_prompts)} train prompts but {len(train_answers)} answers")
    vectorizer, matrix = fit_retrieval(
        train_prompts, ngram_range=ngram_range, min_df=min_df, sublinear_tf=sublinear_tf, lowercase=lowercase
    )
    index, similarity = nearest(vectorizer, matrix, prompts)
    return [
        {
            "generation": train_answers[i],
            "train_index": int(i),
            "similarity": float(s),
            "stopped": True,
            "generated_tokens": _length(train_answers[i], tokenizer),
        }
        for i, s in zip(index.tolist(), similarity.tolist())
    ]


def _length(answer: str, tokenizer: Any) -> int:
    if tokenizer is None:
        return len(answer.split())
    return len(tokenizer(answer, add_special_tokens=False)["input_ids"])
