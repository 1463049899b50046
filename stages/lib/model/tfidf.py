"""The classical baseline a data scientist tries first: TF-IDF word and character n-grams, logistic regression.

One builder for every stage that needs it (compare's baseline row, curve's baseline line), so that "the
TF-IDF baseline" means the same model everywhere.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from schemas.compare import TfidfBaseline


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
    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=tuple(word_ngrams),
                    min_df=min_df,
                    max_features=max_features,
                    sublinear_tf=sublinear_tf,
                    lowercase=lowercase,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(char_ngrams),
                    min_df=min_df,
                    max_features=max_features,
                    sublinear_tf=sublinear_tf,
                    lowercase=lowercase,
                ),
            ),
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
