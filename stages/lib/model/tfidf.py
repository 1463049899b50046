"""The classical baseline a data scientist tries first: TF-IDF word and character n-grams, logistic regression.

One builder for every stage that needs it (compare's baseline row, curve's baseline line), so that "the
TF-IDF baseline" means the same model everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from schemas.compare import TfidfBaseline
from stages.lib.core.errors import StageError
from stages.lib.model.manifest import verify_model_folder, write_manifest

NAME = "tfidf_logreg"  # its name in compare's table and for `predict --approach`
ARRAYS_FILE = "weights.safetensors"  # idf per vectorizer, the classifier's coefficients and intercept
META_FILE = "refinery.json"  # the baseline's params, the labels and each vectorizer's terms in column order


def tfidf_logreg(
    *,
    word_ngrams: tuple[int, int] = (1, 2),
    char_ngrams: tuple[int, int] = (2, 5),
    min_df: int = 1,
    max_features: int | None = None,
    sublinear_tf: bool = True,
    lowercase: bool = True,
    c: float = 10.0,
    class_weight: str | None = "balanced",
    max_iter: int = 2000,
    seed: int = 42,
) -> Pipeline:
    """An unfitted scikit-learn pipeline: word n-grams + character n-grams (within word boundaries), then LR.

    `char_wb` n-grams keep "FREE!!" and "fr33" close to "free"; the word n-grams keep phrases such as "call now".
    liblinear is deterministic for a given seed and fast on a few thousand short texts.
    """
    settings = {"min_df": min_df, "max_features": max_features, "sublinear_tf": sublinear_tf, "lowercase": lowercase}
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=tuple(word_ngrams), **settings)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams), **settings)),
        ]
    )
    classifier = LogisticRegression(
        C=c, class_weight=class_weight, max_iter=max_iter, solver="liblinear", random_state=seed
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def baseline_pipeline(b: TfidfBaseline) -> Pipeline:
    """The baseline as `compare.baseline` configures it (compare's row and curve's line)."""
    return tfidf_logreg(
        word_ngrams=b.word_ngrams,
        char_ngrams=b.char_ngrams,
        min_df=b.min_df,
        max_features=b.max_features,
        sublinear_tf=b.sublinear_tf,
        lowercase=b.lowercase,
        c=b.c,
        class_weight=b.class_weight,
        seed=b.seed,
    )


def save_baseline(pipeline: Pipeline, baseline: TfidfBaseline, folder: Path) -> None:
    """The fitted pipeline as plain data: arrays in safetensors, terms and params in JSON. No pickle, nothing that
    runs code on load, and the same bytes for the same fit (a pickle or skops file names objects by memory id)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    arrays, terms = {}, {}
    for name, vectorizer in pipeline.named_steps["features"].transformer_list:
        arrays[f"{name}.idf"] = np.ascontiguousarray(vectorizer.idf_, dtype=np.float64)
        terms[name] = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    classifier = pipeline.named_steps["classifier"]
    arrays["classifier.coef"] = np.ascontiguousarray(classifier.coef_, dtype=np.float64)
    arrays["classifier.intercept"] = np.ascontiguousarray(classifier.intercept_, dtype=np.float64)
    save_file(arrays, str(folder / ARRAYS_FILE))
    meta = {
        "approach": NAME,
        "kind": NAME,
        "labels": [str(c) for c in classifier.classes_],
        "baseline": baseline.model_dump(mode="json"),
        "terms": terms,
    }
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    write_manifest(folder)  # last: load_baseline verifies it


def load_baseline(folder: str | Path) -> tuple[Pipeline, dict[str, Any]]:
    """(pipeline ready to predict, meta) from `save_baseline`'s folder; StageError when it is missing."""
    from safetensors.numpy import load_file

    folder = Path(folder)
    if not (folder / ARRAYS_FILE).is_file() or not (folder / META_FILE).is_file():
        raise StageError(f"{folder} holds no fitted baseline: run the compare stage first (dvc repro compare)")
    verify_model_folder(folder, "run dvc repro compare", (NAME,))
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    arrays = load_file(str(folder / ARRAYS_FILE))
    pipeline = baseline_pipeline(TfidfBaseline.model_validate(meta["baseline"]))
    for name, vectorizer in pipeline.named_steps["features"].transformer_list:
        vectorizer.set_params(vocabulary={term: i for i, term in enumerate(meta["terms"][name])})
        vectorizer.idf_ = arrays[f"{name}.idf"]
    classifier = pipeline.named_steps["classifier"]
    classifier.coef_, classifier.intercept_ = arrays["classifier.coef"], arrays["classifier.intercept"]
    classifier.classes_ = np.asarray(meta["labels"], dtype=object)
    return pipeline, meta
