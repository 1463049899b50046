"""render's batches on Ray: each batch is encoded by a Ray task running the local engine's `encode_rows`.

The driver reads the split file in the same batches as the local engine, sends each to a task (the tokenizer
goes to the object store once), and takes the results back in order, a few in flight at a time (memory stays
flat). Rows, rejects and counts are then written and added exactly as a local run does, so the outputs are the
same bytes.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from stages.lib.render.layout import Renderer
from stages.lib.render.tokens import Tally, encode_rows, special_pattern


@functools.lru_cache(maxsize=4)
def _worker_renderer(name: str, source: str, special: tuple, markers: tuple) -> Renderer:
    """One compiled template per worker process (a compiled Jinja template does not travel between processes)."""
    return Renderer(name, source, dict(special), list(markers))


def _encode(tokenizer: Any, spec: tuple, batch: pa.RecordBatch, settings: dict) -> tuple:
    renderer = _worker_renderer(*spec)
    tally = Tally()
    rows, rejects = encode_rows(batch.to_pylist(), renderer, tokenizer, tally, special_pattern(tokenizer), **settings)
    return rows, rejects, tally, renderer.end_of_turn_markers()


def encode_on_ray(
    batches: Iterable[pa.RecordBatch], renderer: Renderer, tokenizer: Any, tally: Tally, settings: dict
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(rows, rejects) per batch, in order, encoded on Ray; counts are added to `tally` in order."""
    import ray

    encode = ray.remote(_encode)
    window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    tok = ray.put(tokenizer)
    spec = (renderer.name, renderer.source, tuple(sorted(renderer.special.items())), tuple(renderer.markers))
    pending: deque = deque()

    def take() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows, rejects, part, markers = ray.get(pending.popleft())
        tally.merge(part)
        renderer.seen_elsewhere.update(markers)
        return rows, rejects

    for batch in batches:
        pending.append(encode.remote(tok, spec, batch, settings))
        if len(pending) >= window:
            yield take()
    while pending:
        yield take()
