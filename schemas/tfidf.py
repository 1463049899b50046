"""TF-IDF features and logistic regression: one settings model each, for every section that uses them.

compare's baseline (`compare.baseline`), the audit's model (`audit.tfidf`, `audit.classifier`, also review's and
monitor's), balance's neighbour features (`balance.features`) and monitor's domain classifier
(`monitor.domain_features`) are the same two models with their own values, built by the one builder
`stages/lib/model/tfidf.py`, whose keyword arguments are these field names.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel

# newton-cholesky is left out: it builds an n_features x n_features Hessian (95 GB on the SMS sample's n-grams).
Solver = Literal["lbfgs", "saga", "sag", "newton-cg", "liblinear"]
# scikit-learn 1.8 and later refuse these on three or more classes (no one-vs-rest fallback any more).
BINARY_ONLY_SOLVERS = ("liblinear",)

WORD_TOKENS = r"(?u)\b\w+\b"  # every word, one-letter ones too ('u', '2' carry meaning in short messages)
SKLEARN_TOKENS = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of two characters or more


class TfidfFeatures(StrictModel):
    """TF-IDF over word n-grams and/or character n-grams within word boundaries (`char_wb`), stacked side by side."""

    word_ngrams: tuple[int, int] | None = Field(
        (1, 2), description="Word n-gram range [min, max]; null = no word n-grams."
    )
    char_ngrams: tuple[int, int] | None = Field(
        None,
        description="Character n-gram range [min, max] within word boundaries (char_wb: 'FREE!!' and 'fr33' stay "
        "close to 'free'); null = no character n-grams.",
    )
    token_pattern: str = Field(
        WORD_TOKENS,
        description="Regular expression of a word token (word n-grams only). scikit-learn's default "
        r"'(?u)\b\w\w+\b' drops one-letter tokens.",
    )
    min_df: int = Field(1, ge=1, description="Drop n-grams seen in fewer texts.")
    max_features: int | None = Field(
        None, ge=1, le=10_000_000, description="Keep the most frequent n-grams, per kind (word, char); null = all."
    )
    sublinear_tf: bool = Field(True, description="1 + log(tf): a repeated word counts less than linearly.")
    lowercase: bool = Field(True, description="Lower-case before extracting n-grams.")

    @field_validator("token_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"'{value}' is not a valid regular expression: {exc}") from None
        if groups > 1:
            raise ValueError("may hold at most one capturing group (scikit-learn keeps that group as the token)")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> TfidfFeatures:
        for name in ("word_ngrams", "char_ngrams"):
            value = getattr(self, name)
            if value is not None and not 1 <= value[0] <= value[1]:
                raise ValueError(f"{name} must be [min, max] with 1 <= min <= max; got [{value[0]}, {value[1]}]")
        if self.word_ngrams is None and self.char_ngrams is None:
            raise ValueError("word_ngrams and char_ngrams are both null: set at least one n-gram range")
        return self


class LogisticRegressionSettings(StrictModel):
    """scikit-learn's LogisticRegression (L2 penalty, multinomial for three or more classes)."""

    solver: Solver = Field(
        "lbfgs",
        description="lbfgs (deterministic, any number of classes), saga / sag (stochastic, seeded), newton-cg, or "
        "liblinear (two classes only: scikit-learn 1.8+ refuses it for more).",
    )
    c: float = Field(1.0, gt=0, description="Inverse L2 regularisation strength.")
    class_weight: Literal["balanced"] | None = Field(
        None, description="balanced: weight classes by n / (k * count); null: every row weighs the same."
    )
    max_iter: int = Field(1000, ge=1, le=1_000_000, description="Most solver iterations.")
    tol: float = Field(1e-4, gt=0, description="Stopping tolerance of the solver.")
    seed: int = Field(42, description="random_state of the solver (saga, sag and liblinear shuffle with it).")


def solver_problems(where: str, solver: str, classes: list[str]) -> list[str]:
    """A binary-only solver asked to fit more than two classes: the problem, naming `where` and the fix."""
    if solver in BINARY_ONLY_SOLVERS and len(classes) > 2:
        return [
            f"{where}.solver: '{solver}' fits two classes only, and there are {len(classes)} ({', '.join(classes)}); "
            "use lbfgs or saga"
        ]
    return []
