"""imbalanced-learn samplers on text rows, and class weights.

Samplers see TF-IDF vectors (neighbour-based ones) or just row positions (random
ones, which never look at features); what comes back is `sample_indices_`, the
positions of the rows kept, with repeats for over-sampling. Rows are mapped back
through it, so the balanced train split holds real rows (and copies), never
points interpolated in feature space (SMOTE-style vectors have no text; the
`synthetic` strategy writes new text instead).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from stages.lib.core.errors import StageError

# strategy -> (imblearn module, class, whether it needs features, whether it takes n_neighbors)
SAMPLERS = {
    "random_over": ("imblearn.over_sampling", "RandomOverSampler", False, False),
    "random_under": ("imblearn.under_sampling", "RandomUnderSampler", False, False),
    "near_miss": ("imblearn.under_sampling", "NearMiss", True, True),
    "instance_hardness": ("imblearn.under_sampling", "InstanceHardnessThreshold", True, False),
    "tomek_links": ("imblearn.under_sampling", "TomekLinks", True, False),
    "edited_nearest_neighbours": ("imblearn.under_sampling", "EditedNearestNeighbours", True, True),
    "repeated_edited_nearest_neighbours": ("imblearn.under_sampling", "RepeatedEditedNearestNeighbours", True, True),
    "all_knn": ("imblearn.under_sampling", "AllKNN", True, True),
    "condensed_nearest_neighbour": ("imblearn.under_sampling", "CondensedNearestNeighbour", True, True),
    "one_sided_selection": ("imblearn.under_sampling", "OneSidedSelection", True, True),
    "neighbourhood_cleaning": ("imblearn.under_sampling", "NeighbourhoodCleaningRule", True, True),
}
# samplers whose constructor takes random_state
_RANDOM = {"random_over", "random_under", "instance_hardness", "condensed_nearest_neighbour", "one_sided_selection"}


def check_strategy_against_data(strategy: str, sampling_strategy: Any, labels: Sequence[str]) -> None:
    """What the schema cannot know without the data: class count for a float, label names in a dict or list.

    Raises StageError with the labels the train split has and the fix.
    """
    present = sorted(set(labels))
    if len(present) < 2:
        raise StageError(f"balance.strategy '{strategy}' needs at least two classes in train; it has {present}")
    if isinstance(sampling_strategy, float) and len(present) != 2:
        raise StageError(
            f"balance.sampling_strategy is a float ({sampling_strategy}), which imbalanced-learn accepts only for "
            f"two classes; train has {len(present)}: {present}. Use a dict {{label: rows wanted}} or a string "
            "such as 'auto' or 'not majority'."
        )
    if isinstance(sampling_strategy, dict | list):
        unknown = sorted(set(sampling_strategy) - set(present))
        if unknown:
            raise StageError(
                f"balance.sampling_strategy names labels that are not in train: {unknown}; train has {present}"
            )


def resample_indices(
    strategy: str,
    sampling_strategy: Any,
    labels: Sequence[str],
    features: Any,
    seed: int,
    n_neighbors: int,
) -> np.ndarray:
    """`sample_indices_` of the sampler fitted on (features, labels): positions kept, repeats for copies.

    `features` may be None for the random samplers. imbalanced-learn's own
    ValueErrors (a dict asking an over-sampler for fewer rows than a class has, a
    float too low to reach) become StageErrors naming `balance.sampling_strategy`.
    """
    import importlib

    module, name, needs_features, takes_neighbors = SAMPLERS[strategy]
    # Labels go in as integer codes: NeighbourhoodCleaningRule takes scipy's mode of them, which refuses strings
    classes = sorted(set(labels))
    code = {c: i for i, c in enumerate(classes)}
    y = np.asarray([code[x] for x in labels])
    target = sampling_strategy
    if isinstance(target, dict):
        target = {code[k]: v for k, v in target.items()}
    elif isinstance(target, list):
        target = [code[k] for k in target]
    kwargs: dict[str, Any] = {"sampling_strategy": target}
    if strategy in _RANDOM:
        kwargs["random_state"] = seed
    if takes_neighbors:
        kwargs["n_neighbors"] = n_neighbors
    sampler = getattr(importlib.import_module(module), name)(**kwargs)
    X = features if needs_features else np.arange(len(labels)).reshape(-1, 1)
    try:
        sampler.fit_resample(X, y)
    except ValueError as exc:
        raise StageError(
            f"balance.sampling_strategy={sampling_strategy!r} with {name}: {exc} (train class counts: "
            f"{dict(sorted(Counter(labels).items()))})"
        ) from None
    return np.asarray(sampler.sample_indices_)


def target_counts_over(sampling_strategy: Any, labels: Sequence[str]) -> dict[str, int]:
    """Rows to add per class for an over-sampling `sampling_strategy`, as imbalanced-learn computes them."""
    from imblearn.utils import check_sampling_strategy

    try:
        needed = check_sampling_strategy(sampling_strategy, np.asarray(labels, dtype=object), "over-sampling")
    except ValueError as exc:
        raise StageError(f"balance.sampling_strategy={sampling_strategy!r}: {exc}") from None
    return {str(k): int(v) for k, v in needed.items() if v > 0}


def class_weights(kind: str | dict[str, float], labels: Sequence[str]) -> dict[str, float] | None:
    """Per-class loss weights for the labels of the (balanced) train rows; None for 'none'.

    'balanced' is scikit-learn's n_rows / (n_classes * rows_of_class); 'balanced_sqrt'
    takes its square root and rescales so that, like 'balanced', the weights
    average to 1 over the rows. A dict must name exactly the train labels.
    """
    present = sorted(set(labels))
    if kind == "none":
        return None
    if not present:
        raise StageError("balance.class_weights: train has no labeled row to weigh; set class_weights to 'none'")
    if isinstance(kind, dict):
        missing, extra = sorted(set(present) - set(kind)), sorted(set(kind) - set(present))
        if missing or extra:
            raise StageError(
                f"balance.class_weights must give a weight for each train label {present}; "
                f"missing {missing}, not in train {extra}"
            )
        return {k: float(kind[k]) for k in present}
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(labels, dtype=object)
    weights = compute_class_weight("balanced", classes=np.asarray(present, dtype=object), y=y)
    if kind == "balanced_sqrt":
        counts = Counter(labels)
        roots = [math.sqrt(w) for w in weights]
        scale = len(labels) / sum(r * counts[c] for r, c in zip(roots, present))
        weights = [r * scale for r in roots]
    return {c: round(float(w), 6) for c, w in zip(present, weights)}
