"""TF-IDF features and logistic regression: the one builder for every stage that uses them.

compare's baseline row (and curve's baseline line), the audit's out-of-fold model, review's active-learning model,
monitor's models and balance's neighbour features are all built here, from the settings models of
schemas/tfidf.py: each builder's keyword arguments are that model's field names, with no defaults of their own
(`vectorizer(**cfg.tfidf.model_dump())`), so a setting cannot be dropped on the way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from schemas.tfidf import SKLEARN_TOKENS
from stages.lib.core.errors import StageError
from stages.lib.model.manifest import verify_model_folder, write_manifest

NAME = "tfidf_logreg"  # its name in compare's table and for `predict --approach`
ARRAYS_FILE = "weights.safetensors"  # idf per vectorizer, the classifier's coefficients and intercept
META_FILE = "refinery.json"  # the baseline's params, the labels and each vectorizer's terms in column order


def vectorizer(
    *,
    word_ngrams: tuple[int, int] | None,
    char_ngrams: tuple[int, int] | None,
    token_pattern: str,
    min_df: int,
    max_features: int | None,
    sublinear_tf: bool,
    lowercase: bool,
) -> FeatureUnion:
    """Unfitted TF-IDF features (schemas.tfidf.TfidfFeatures): word n-grams, then `char_wb` n-grams, side by side.

    Each kind is named in the union ('word', 'char'); a kind whose range is null is left out.
    """
    common = {"min_df": min_df, "max_features": max_features, "sublinear_tf": sublinear_tf, "lowercase": lowercase}
    kinds = []
    if word_ngrams is not None:
        kinds.append(
            (
                "word",
                TfidfVectorizer(analyzer="word", ngram_range=tuple(word_ngrams), token_pattern=token_pattern, **common),
            )
        )
    if char_ngrams is not None:
        kinds.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams), **common)))
    return FeatureUnion(kinds)


def classifier(
    *, solver: str, c: float, class_weight: str | None, max_iter: int, tol: float, seed: int
) -> LogisticRegression:
    """Unfitted logistic regression (schemas.tfidf.LogisticRegressionSettings)."""
    return LogisticRegression(
        solver=solver, C=c, class_weight=class_weight, max_iter=max_iter, tol=tol, random_state=seed
    )


def tfidf_logreg(*, features: dict[str, Any], classifier: dict[str, Any]) -> Pipeline:
    """Unfitted features + logistic regression (schemas.compare.TfidfBaseline): `tfidf_logreg(**b.model_dump())`."""
    return Pipeline([("features", vectorizer(**features)), ("classifier", _classifier(**classifier))])


_classifier = classifier  # tfidf_logreg's keyword `classifier` shadows the builder inside it


def baseline_pipeline(b: Any) -> Pipeline:
    """The baseline as `compare.baseline` (schemas.compare.TfidfBaseline) configures it: compare's row, curve's line.

    Takes the settings model untyped, so that this module (shared by audit, review, monitor, balance) depends on
    schemas/tfidf.py alone, not on the compare section.
    """
    return tfidf_logreg(**b.model_dump())


def save_baseline(pipeline: Pipeline, baseline: Any, folder: Path, text: Mapping[str, Any] | None = None) -> None:
    """The fitted pipeline as plain data: arrays in safetensors, terms and params in JSON. No pickle, nothing that
    runs code on load, and the same bytes for the same fit (a pickle or skops file names objects by memory id).

    `baseline` is the settings model (schemas.compare.TfidfBaseline) or the same as a plain dict
    (`{"features": ..., "classifier": ...}`: the audit's model, from `audit.tfidf` and `audit.classifier`).
    Files already in `folder` (the audit's out-of-fold probabilities) are listed in its manifest too. `text` is
    the fingerprint of the text settings the training rows were made with
    (`stages.lib.text.fingerprint.text_fingerprint`), recorded as trained model folders record it, so predict
    refuses other settings for the baseline too."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    arrays, terms = {}, {}
    for name, vec in pipeline.named_steps["features"].transformer_list:
        arrays[f"{name}.idf"] = np.ascontiguousarray(vec.idf_, dtype=np.float64)
        terms[name] = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    clf = pipeline.named_steps["classifier"]
    arrays["classifier.coef"] = np.ascontiguousarray(clf.coef_, dtype=np.float64)
    arrays["classifier.intercept"] = np.ascontiguousarray(clf.intercept_, dtype=np.float64)
    save_file(arrays, str(folder / ARRAYS_FILE))
    meta = {
        "approach": NAME,
        "kind": NAME,
        "labels": [str(c) for c in clf.classes_],
        "baseline": baseline if isinstance(baseline, dict) else baseline.model_dump(mode="json"),
        "terms": terms,
    }
    if text is not None:
        meta["text"] = dict(text)
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    write_manifest(folder)  # last: load_baseline verifies it


def load_baseline(
    folder: str | Path, fix: str = "run the compare stage first (dvc repro compare)"
) -> tuple[Pipeline, dict[str, Any]]:
    """(pipeline ready to predict, meta) from `save_baseline`'s folder; StageError, ending with `fix` (the stage
    that writes it), when it is missing or does not match its manifest."""
    from safetensors.numpy import load_file

    folder = Path(folder)
    if not (folder / ARRAYS_FILE).is_file() or not (folder / META_FILE).is_file():
        raise StageError(f"{folder} holds no fitted baseline: {fix}")
    verify_model_folder(folder, fix, (NAME,))
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    arrays = load_file(str(folder / ARRAYS_FILE))
    pipeline = tfidf_logreg(**_current_layout(meta["baseline"]))
    for name, vec in pipeline.named_steps["features"].transformer_list:
        vec.set_params(vocabulary={term: i for i, term in enumerate(meta["terms"][name])})
        vec.idf_ = arrays[f"{name}.idf"]
    clf = pipeline.named_steps["classifier"]
    clf.coef_, clf.intercept_ = arrays["classifier.coef"], arrays["classifier.intercept"]
    clf.classes_ = np.asarray(meta["labels"], dtype=object)
    return pipeline, meta


def _current_layout(baseline: dict[str, Any]) -> dict[str, Any]:
    """A baseline saved before the settings were split into `features` and `classifier` (one flat block, word
    tokens of two characters or more, liblinear), in today's layout; today's layout as it is."""
    if "features" in baseline:
        return baseline
    features = ("word_ngrams", "char_ngrams", "min_df", "max_features", "sublinear_tf", "lowercase")
    return {
        "features": {k: baseline[k] for k in features} | {"token_pattern": SKLEARN_TOKENS},
        "classifier": {
            "solver": "liblinear",
            "c": baseline["c"],
            "class_weight": baseline["class_weight"],
            "max_iter": 2000,
            "tol": 1e-4,
            "seed": baseline["seed"],
        },
    }
