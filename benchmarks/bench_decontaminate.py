"""Decontamination at the issue's scale: 100k training conversations against 10k evaluation rows.

Run: pytest benchmarks/bench_decontaminate.py --benchmark-only -s. Synthetic text over a 20k-word vocabulary
(seed 0): train rows of 120 words, evaluation rows of 30. 500 evaluation rows are planted verbatim inside
train rows (40 words either side) and 500 are planted with two words edited (no 13 words in a row survive,
so only the MinHash near match can find them). Prints seconds, recall of each kind and false positives.
Measured on the project's two-core machine (shared): 32 s, recall 1.0 verbatim, 0.95 edited, 0 false
positives with the default settings (13-grams; word 3-gram MinHash at Jaccard 0.5).
"""

from __future__ import annotations

import random
import time

import pytest

from schemas.decontam import DecontamParams
from stages.lib.decontam.matches import find_contaminated


def planted(n_train: int, n_eval: int, seed: int = 0):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20_000)]

    def words(k: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(k))

    evals = [words(30) for _ in range(n_eval)]
    train = [words(120) for _ in range(n_train)]
    verbatim = list(range(0, n_train, n_train // 500))[:500]
    edited = list(range(1, n_train, n_train // 500))[:500]
    for k, i in enumerate(verbatim):
        train[i] = f"{words(40)} {evals[k]} {words(40)}"
    for k, i in enumerate(edited):
        tokens = evals[500 + k].split()
        tokens[10] = tokens[20] = "edited"
        train[i] = " ".join(tokens)
    return train, evals, verbatim, edited


@pytest.mark.parametrize(("n_train", "n_eval"), [(100_000, 10_000)])
def test_decontaminate_100k_against_10k(benchmark, n_train, n_eval):
    train, evals, verbatim, edited = planted(n_train, n_eval)
    p = DecontamParams()
    near = p.near.model_dump()

    def run():
        return find_contaminated(train, {"test": evals}, ngram=p.ngram, min_words=p.min_words, near=near)

    t0 = time.perf_counter()
    found, _ = benchmark.pedantic(run, rounds=1, iterations=1)
    seconds = time.perf_counter() - t0
    planted_rows = set(verbatim) | set(edited)
    recall_verbatim = sum(found[i] is not None for i in verbatim) / len(verbatim)
    recall_edited = sum(found[i] is not None for i in edited) / len(edited)
    false_positives = sum(f is not None for i, f in enumerate(found) if i not in planted_rows)
    print(
        f"\ndecontaminate {n_train} x {n_eval}: {seconds:.1f} s, recall verbatim {recall_verbatim:.3f}, "
        f"edited {recall_edited:.3f}, false positives {false_positives}"
    )
    assert recall_verbatim == 1.0
