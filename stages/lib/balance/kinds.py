"""The balance strategies by what they do with the train rows, and `sampler_kind`, which the stage branches on.

A leaf module (no imports): schemas/balance.py builds its list of valid strategies from these names and checks
`sampling_strategy` against the kind, so the schema and the stage cannot disagree on a sampler's kind.
"""

from __future__ import annotations

# The samplers, by what imbalanced-learn does with `sampling_strategy` for each.
OVER = ("random_over", "synthetic")
UNDER = ("random_under", "near_miss", "instance_hardness")
CLEAN = (
    "tomek_links",
    "edited_nearest_neighbours",
    "repeated_edited_nearest_neighbours",
    "all_knn",
    "condensed_nearest_neighbour",
    "one_sided_selection",
    "neighbourhood_cleaning",
)
NO_RESAMPLING = ("none", "class_weights")


def sampler_kind(strategy: str) -> str | None:
    """'over', 'under', 'clean', or None for strategies that do not resample."""
    if strategy in OVER:
        return "over"
    if strategy in UNDER:
        return "under"
    if strategy in CLEAN:
        return "clean"
    return None
