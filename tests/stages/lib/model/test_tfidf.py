"""The one TF-IDF builder: keyword arguments named like the settings models, no defaults; saved baselines load."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from schemas.compare import TfidfBaseline
from schemas.tfidf import LogisticRegressionSettings, TfidfFeatures
from stages.lib.model import tfidf
from stages.lib.model.tfidf import classifier, load_baseline, save_baseline, tfidf_logreg, vectorizer

TEXTS = ["win a free prize now", "free cash call now", "see you at lunch", "i am late, the bus is stuck"]
LABELS = ["spam", "spam", "ham", "ham"]


@pytest.mark.parametrize(
    ("builder", "model"),
    [(vectorizer, TfidfFeatures), (classifier, LogisticRegressionSettings), (tfidf_logreg, TfidfBaseline)],
)
def test_each_builder_takes_exactly_its_settings_fields_with_no_defaults(builder, model):
    params = inspect.signature(builder).parameters.values()
    assert {p.name for p in params} == set(model.model_fields)
    assert all(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in params)


def test_a_null_range_leaves_that_kind_out():
    words = vectorizer(**TfidfFeatures(word_ngrams=(1, 1), char_ngrams=None).model_dump())
    assert [name for name, _ in words.transformer_list] == ["word"]
    both = vectorizer(**TfidfFeatures(word_ngrams=(1, 1), char_ngrams=(2, 3)).model_dump())
    assert [name for name, _ in both.transformer_list] == ["word", "char"]
    one_letter = words.fit(["u r 2 late"]).transformer_list[0][1].vocabulary_
    assert set(one_letter) == {"u", "r", "2", "late"}  # the default token keeps one-letter words


def test_three_classes_fit_with_the_default_solver():
    pipeline = tfidf_logreg(**TfidfBaseline().model_dump())
    pipeline.fit([*TEXTS, "where is the station", "how far is it"], [*LABELS, "question", "question"])
    assert list(pipeline.classes_) == ["ham", "question", "spam"]


def test_a_baseline_saved_before_the_split_into_features_and_classifier_still_loads(tmp_path):
    """models/tfidf_logreg of an earlier run: one flat settings block, liblinear, two-letter word tokens."""
    old = {
        "word_ngrams": [1, 2],
        "char_ngrams": [2, 5],
        "min_df": 1,
        "max_features": None,
        "sublinear_tf": True,
        "lowercase": True,
        "c": 100.0,
        "class_weight": None,
        "seed": 42,
    }
    baseline = TfidfBaseline.model_validate(tfidf._current_layout(old))
    assert baseline.classifier.solver == "liblinear" and baseline.features.token_pattern == r"(?u)\b\w\w+\b"
    fitted = tfidf_logreg(**baseline.model_dump()).fit(TEXTS, LABELS)
    save_baseline(fitted, baseline, tmp_path)
    meta = json.loads((tmp_path / tfidf.META_FILE).read_text())
    (tmp_path / tfidf.META_FILE).write_text(json.dumps(meta | {"baseline": old}))
    pipeline, _ = load_baseline(tmp_path)
    assert np.array_equal(pipeline.predict_proba(TEXTS), fitted.predict_proba(TEXTS))
