"""Logging and progress bars with one look across stages."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def get_logger(stage: str) -> logging.Logger:
    """A logger that prints `[stage] message` to stderr, configured once per process."""
    root = logging.getLogger("refinery")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return root.getChild(stage)


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """A tqdm bar on stderr; it refreshes at most twice a second so logs stay readable under DVC."""
    yield from tqdm(items, desc=desc, total=total, unit=unit, mininterval=0.5, file=sys.stderr, dynamic_ncols=True)
