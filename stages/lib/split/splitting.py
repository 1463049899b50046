"""Assigning rows to train/validation/test without leakage, and finding the leaks that remain.

Plain functions on lists and arrays. The random split cuts the groups of rows
into `d` folds with scikit-learn's StratifiedKFold (KFold without
stratification), where `d` is the smallest number of equal folds the
fractions are whole multiples of (0.8/0.1/0.1 -> 10 folds: 8 train, 1
validation, 1 test), so groups never cross splits and each fold keeps the
class shares. The hash split gives each group the split its seeded hash
falls in, so a row's split does not depend on the other rows (stable from
one round of new data or corrected labels to the next).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from stages.lib.core.errors import StageError
from stages.lib.core.ids import text_key
from stages.lib.text.near_dup import near_duplicate_pairs

SPLITS = ("train", "validation", "test")
COLUMN_VALUES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}


def group_ids(values: Sequence[str | None] | None, texts: Sequence[str]) -> np.ndarray:
    """One integer per row; rows sharing a group value or a normalised text share it (union-find)."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for keys in (values, [text_key(t) for t in texts]):
        if keys is None:
            continue
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key is None:
                continue
            j = first.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(len(texts))]
    _, inverse = np.unique(roots, return_inverse=True)
    return inverse


def fold_plan(fractions: dict[str, float]) -> tuple[int, dict[str, int]]:
    """The number of folds and how many go to each split: {'train': 8, 'validation': 1, 'test': 1} of 10."""
    denominators = [Fraction(f).limit_denominator(100).denominator for f in fractions.values() if f > 0]
    d = math.lcm(*denominators)
    if d > 100:
        d = 100
    counts = {s: round(fractions[s] * d) for s in SPLITS}
    counts["train"] = d - counts["validation"] - counts["test"]
    for s in ("validation", "test"):
        if fractions[s] > 0 and counts[s] == 0:
            counts[s] = 1
            counts["train"] -= 1
    return d, counts


def check_class_sizes(labels: Sequence[str], groups: np.ndarray, n_splits: int) -> None:
    """Fail, naming the class, when a class has fewer groups than there are non-empty splits."""
    per_class: dict[str, set[int]] = {}
    for label, group in zip(labels, groups):
        per_class.setdefault(label, set()).add(int(group))
    for label, members in sorted(per_class.items(), key=lambda kv: (len(kv[1]), kv[0])):
        if len(members) < n_splits:
            raise StageError(small_class_message(label, len(members), n_splits))


def small_class_message(label: str, count: int, n_splits: int) -> str:
    return (
        f"class '{label}' has {count} example group(s) (rows after grouping duplicates), too few to appear in each "
        f"of the {n_splits} splits. Options: merge it into another class (label.aliases: {{{label}: <class>}}), "
        f"drop it (remove it from label.classes; its rows become label rejects), or lower the number of splits "
        "(split.fractions.validation: 0), or label more examples of it."
    )


def random_split(
    labels: Sequence[str], groups: np.ndarray, fractions: dict[str, float], seed: int, stratify: bool
) -> list[str]:
    """Split name per row: seeded folds over groups, stratified by label when asked."""
    n = len(labels)
    d, plan = fold_plan(fractions)
    nonzero = sum(1 for s in SPLITS if plan[s] > 0)
    n_groups = int(groups.max()) + 1 if n else 0
    if n_groups < d:
        raise StageError(
            f"only {n_groups} groups of rows (after grouping duplicates) to cut into {d} folds for fractions "
            f"{fractions}; label more rows, or use fractions in coarser steps (e.g. 0.6/0.2/0.2 needs 5)"
        )
    check_class_sizes(labels, groups, nonzero)
    folds = group_folds(np.asarray(labels), groups, d, seed, stratify)
    y = np.asarray(labels)
    # Folds holding the most classes go to test, then validation, so rare classes reach them.
    richness = sorted(range(d), key=lambda i: (-len(set(y[folds[i]].tolist())), i))
    order = ["test"] * plan["test"] + ["validation"] * plan["validation"] + ["train"] * plan["train"]
    out = [""] * n
    for fold, split in zip(richness, order):
        for i in folds[fold]:
            out[i] = split
    present = {s: set(y[[i for i in range(n) if out[i] == s]].tolist()) for s in SPLITS if plan[s] > 0}
    counts = Counter(labels)
    for label in sorted(counts, key=lambda c: (counts[c], c)):
        if any(label not in classes for classes in present.values()):
            groups_of = len({int(g) for g, lab in zip(groups, labels) if lab == label})
            raise StageError(small_class_message(label, groups_of, nonzero))
    return out


def hash_split(ids: Sequence[str], groups: np.ndarray, fractions: dict[str, float], seed: int) -> list[str]:
    """Split name per row from a seeded hash of its group's smallest row id: stable across rounds.

    A row keeps its split when other rows are added, removed or relabelled; only a change of its own group (a
    new near duplicate with a smaller id joining it) can move it. The shares are those of `fractions` in
    expectation, not exactly, and classes are not stratified.
    """
    first: dict[int, str] = {}
    for g, row_id in zip(groups.tolist(), ids):
        if g not in first or row_id < first[g]:
            first[g] = row_id
    test_cut = fractions["test"]
    validation_cut = test_cut + fractions["validation"]

    def split_of(key: str) -> str:
        digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        return "test" if u < test_cut else "validation" if u < validation_cut else "train"

    of_group = {g: split_of(key) for g, key in first.items()}
    return [of_group[g] for g in groups.tolist()]


def check_presence(labels: Sequence[str], assigned: Sequence[str], expected: Sequence[str], method: str) -> None:
    """The checks every split method passes: two classes at least, every expected split non-empty, every
    class in every expected split. StageError naming what is missing and the fix."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise StageError(
            f"all {len(labels)} labeled rows have the one class {classes!r}: a classifier needs two or more. "
            "Check label.classes and label.aliases, and that every class's source is listed in ingest.sources"
        )
    present: dict[str, set[str]] = {s: set() for s in SPLITS}
    for label, split in zip(labels, assigned):
        present[split].add(label)
    empty = [s for s in expected if not present[s]]
    if empty:
        raise StageError(
            f"split.method {method} leaves {', '.join(empty)} empty; "
            + (
                f"the column names no row for it: set split.fractions.{empty[0]}: 0 to go without it, or fix the column"
                if method == "column"
                else f"label more rows, or set split.fractions.{empty[0]}: 0 to go without it"
            )
        )
    fixes = {
        "random": "label more of them",
        "hash": "label more of them, or use method random (stratified)",
        "time": "label more of them across the whole period, or use method random (stratified)",
        "column": "give some of their rows this split in the split column, or use method random",
    }
    counts = Counter(labels)
    for split in expected:
        missing = [c for c in classes if c not in present[split]]
        if missing:
            raise StageError(
                f"split.method {method} puts no row of class(es) {missing} in {split} "
                f"({', '.join(f'{c}: {counts[c]} rows in all' for c in missing)}), so {split} metrics would "
                f"ignore them; {fixes[method]}"
            )


def group_folds(labels: np.ndarray, groups: np.ndarray, d: int, seed: int, stratify: bool) -> list[np.ndarray]:
    """Row indices of each of `d` folds; whole groups only, stratified by each group's majority label.

    scikit-learn's (Stratified)KFold over the groups, each group counted once
    with its most common label (ties: first in sorted order). StratifiedGroupKFold
    assigns one group at a time in Python: on data shaped like the SMS sample
    (5,574 rows, 5,159 groups) it took 5.5 s against 0.027 s here (x200,
    benchmarks/bench_split.py), for a largest per-fold spam-share gap of 0.1
    against 1.2 points. Whole groups stay together either way.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    n_groups = int(groups.max()) + 1
    votes: dict[int, Counter[str]] = {}
    for g, lab in zip(groups.tolist(), labels.tolist()):
        votes.setdefault(g, Counter())[lab] += 1
    group_label = np.array([min(votes[g].items(), key=lambda kv: (-kv[1], kv[0]))[0] for g in range(n_groups)])
    cv = StratifiedKFold(d, shuffle=True, random_state=seed) if stratify else KFold(d, shuffle=True, random_state=seed)
    import warnings

    with warnings.catch_warnings():
        # "The least populated class in y has only N members": checked ourselves, per split, afterwards
        warnings.simplefilter("ignore", UserWarning)
        held = [fold for _, fold in cv.split(np.zeros((n_groups, 1)), group_label)]
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    for f, members in enumerate(held):
        fold_of_group[members] = f
    fold_of_row = fold_of_group[groups]
    return [np.flatnonzero(fold_of_row == f) for f in range(d)]


def column_split(values: Sequence[str | None], column: str) -> list[str]:
    """Split names from a predefined column (train/validation/test and common spellings)."""
    out, bad = [], Counter()
    for value in values:
        name = COLUMN_VALUES.get(str(value).strip().casefold()) if value is not None else None
        if name is None:
            bad[value] += 1
        out.append(name or "")
    if bad:
        raise StageError(
            f"split.column '{column}' holds values that name no split: {dict(bad.most_common(5))}; "
            f"allowed: {sorted(COLUMN_VALUES)}"
        )
    return out


def time_split(values: Sequence[str | None], ids: Sequence[str], fractions: dict[str, float], column: str) -> list[str]:
    """Oldest rows to train, then validation, newest to test (ties ordered by id)."""
    import pandas as pd

    times = pd.to_datetime(pd.Series(list(values), dtype="object"), utc=True, errors="coerce", format="mixed")
    bad = [v for v, t in zip(values, times) if pd.isna(t)]
    if bad:
        raise StageError(f"split.time_column '{column}': {len(bad)} value(s) are not dates, e.g. {bad[:3]}")
    order = sorted(range(len(ids)), key=lambda i: (times.iloc[i], ids[i]))
    n = len(order)
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["validation"] * n)
    out = [""] * n
    for rank, i in enumerate(order):
        out[i] = "train" if rank < n_train else ("validation" if rank < n_train + n_val else "test")
    return out


def find_leaks(
    texts: Sequence[str],
    splits: Sequence[str],
    threshold: float | None,
    ngram: int = 5,
    unit: str = "char",
    lowercase: bool = True,
    near_pairs: Callable[..., list[tuple[int, int, float]]] = near_duplicate_pairs,
) -> dict[int, tuple[str, int, float]]:
    """Rows of validation/test duplicating a row of an earlier split: index -> (kind, other index, similarity).

    Earlier means train for validation, train or validation for test. `exact`
    compares normalised-text hashes; `near` is clean's near-duplicate definition
    (shingle-set Jaccard >= threshold, same shingles), computed exactly by `near_pairs`
    (`near_duplicate_pairs` here, or the same search spread over a Ray cluster).
    """
    rank = {s: n for n, s in enumerate(SPLITS)}
    keys = [text_key(t) for t in texts]
    first_in: dict[str, dict[int, int]] = {}
    for i, (key, split) in enumerate(zip(keys, splits)):
        first_in.setdefault(key, {}).setdefault(rank[split], i)
    leaks: dict[int, tuple[str, int, float]] = {}
    for i, (key, split) in enumerate(zip(keys, splits)):
        earlier = [j for r, j in sorted(first_in[key].items()) if r < rank[split]]
        if earlier:
            leaks[i] = ("exact", earlier[0], 1.0)
    if threshold is None:
        return leaks
    queries = [i for i, s in enumerate(splits) if s != "train" and i not in leaks]
    corpus = [i for i, s in enumerate(splits) if s != "test"]
    pairs = near_pairs([texts[i] for i in queries], [texts[j] for j in corpus], threshold, ngram, unit, lowercase)
    for qi, cj, score in pairs:
        i, j = queries[qi], corpus[cj]
        if rank[splits[j]] < rank[splits[i]] and i not in leaks:
            leaks[i] = ("near", j, round(score, 4))
    return leaks
