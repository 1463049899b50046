"""Decontamination on Ray Data: chunks of training texts, each checked on a worker by the same
`find_contaminated` against the evaluation texts (held once in the object store).

A training text's match depends only on that text and the evaluation side (its first n-gram found, its best
verified near match), so the chunks' results concatenated in order are exactly the local result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stages.lib.decontam.matches import Match, find_contaminated

_TEXTS_PER_TASK = 5_000


def _check(items: dict[str, np.ndarray], evaluation_ref, settings: dict[str, Any]) -> dict[str, list]:
    import ray

    evaluation = ray.get(evaluation_ref)
    out: dict[str, list] = {"index": [], "origin": [], "kind": [], "detail": []}
    for start, texts in zip(items["start"].tolist(), items["texts"], strict=True):
        found, _ = find_contaminated([str(t) for t in texts], evaluation, **settings)
        for k, match in enumerate(found):
            if match is not None:
                out["index"].append(start + k)
                out["origin"].append(match.origin)
                out["kind"].append(match.kind)
                out["detail"].append(match.detail)
    return out


def find_contaminated_on_ray(
    train: Sequence[str],
    evaluation: Mapping[str, Sequence[str]],
    workers: int,
    *,
    ngram: int,
    min_words: int,
    near: Mapping[str, Any],
) -> tuple[list[Match | None], dict[str, Any]]:
    """`find_contaminated` with the training texts spread over `workers` Ray tasks; the same result."""
    import ray
    import ray.data

    settings = {"ngram": ngram, "min_words": min_words, "near": dict(near)}
    evaluation = {origin: list(texts) for origin, texts in evaluation.items()}
    _, stats = find_contaminated([], evaluation, **settings)  # the index counts, on the driver
    found: list[Match | None] = [None] * len(train)
    if not train:
        return found, stats
    chunks = [
        {"start": lo, "texts": list(train[lo : lo + _TEXTS_PER_TASK])} for lo in range(0, len(train), _TEXTS_PER_TASK)
    ]
    ds = ray.data.from_items(chunks, override_num_blocks=len(chunks))
    ds = ds.map_batches(
        _check,
        fn_kwargs={"evaluation_ref": ray.put(evaluation), "settings": settings},
        batch_size=1,
        batch_format="numpy",
        num_cpus=1,
        compute=ray.data.TaskPoolStrategy(size=workers),
    )
    for r in ds.iter_rows():
        found[int(r["index"])] = Match(str(r["origin"]), str(r["kind"]), str(r["detail"]))
    return found, stats
