"""Ordered, bounded parallel map over worker processes: memory stays flat however many items there are."""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_state: dict[str, Any] = {}


def _init(factory: Callable[[], Callable[[Any], Any]]) -> None:
    _state["fn"] = factory()


def _call(item: Any) -> Any:
    return _state["fn"](item)


def ordered_map(
    factory: Callable[[], Callable[[T], R]], items: Iterable[T], num_proc: int = 1, window: int | None = None
) -> Iterator[R]:
    """Yield `fn(item)` for each item, in order, where `fn = factory()` is built once per worker.

    At most `window` items (default 2 per worker) are in flight, so a lazy `items` (batches read from a
    Parquet file) is never read ahead into memory. With num_proc=1 everything runs in this process.
    """
    if num_proc <= 1:
        fn = factory()
        for item in items:
            yield fn(item)
        return
    window = window or 2 * num_proc
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(num_proc, initializer=_init, initargs=(factory,)) as pool:
        pending: deque[Any] = deque()
        for item in items:
            pending.append(pool.apply_async(_call, (item,)))
            if len(pending) >= window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
