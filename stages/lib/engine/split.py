"""The split stage's near-duplicate leakage search on Ray Data: chunks of query texts, each searched on a
worker against the whole corpus (held once in the object store) by the same `near_duplicate_pairs`.

Jaccard values come from integer shingle counts, so a chunk finds the same pairs with the same scores as
the whole search; the chunks' pairs, shifted back to global query positions and sorted, are its result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from stages.lib.text.near_dup import near_duplicate_pairs

_QUERIES_PER_TASK = 2_048


def _search(items: dict[str, np.ndarray], corpus_ref, threshold: float, shingles: tuple) -> dict[str, list]:
    import ray

    corpus = ray.get(corpus_ref)
    out: dict[str, list] = {"query": [], "corpus": [], "score": []}
    for start, texts in zip(items["start"].tolist(), items["texts"], strict=True):
        for qi, cj, score in near_duplicate_pairs([str(t) for t in texts], corpus, threshold, *shingles):
            out["query"].append(start + qi)
            out["corpus"].append(cj)
            out["score"].append(score)
    return out


def pairs_finder(workers: int) -> Callable[..., list[tuple[int, int, float]]]:
    """A drop-in for `near_duplicate_pairs(queries, corpus, threshold, ngram, unit, lowercase)` that runs on Ray."""

    def find(
        queries: Sequence[str], corpus: Sequence[str], threshold: float, ngram: int, unit: str, lowercase: bool
    ) -> list[tuple[int, int, float]]:
        import ray
        import ray.data

        if not queries or not corpus:
            return []
        chunks = [
            {"start": lo, "texts": list(queries[lo : lo + _QUERIES_PER_TASK])}
            for lo in range(0, len(queries), _QUERIES_PER_TASK)
        ]
        ds = ray.data.from_items(chunks, override_num_blocks=len(chunks))
        ds = ds.map_batches(
            _search,
            fn_kwargs={
                "corpus_ref": ray.put(list(corpus)),
                "threshold": threshold,
                "shingles": (ngram, unit, lowercase),
            },
            batch_size=1,
            batch_format="numpy",
            num_cpus=1,
            compute=ray.data.TaskPoolStrategy(size=workers),
        )
        pairs = [(int(r["query"]), int(r["corpus"]), float(r["score"])) for r in ds.iter_rows()]
        return sorted(pairs)

    return find
