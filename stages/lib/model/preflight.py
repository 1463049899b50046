"""Checks against the data of what compare, audit and review will need, run before the first training.

The class count and the rows per class are known once split has run; the settings that depend on them (a
two-class-only solver, audit.folds) would otherwise fail in compare or audit after every training has finished.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from stages.lib.core.errors import StageError


def check_class_settings(params: Any, split_dir: str | Path) -> None:
    """Raise StageError listing every setting of compare, audit or review that the split's classes rule out.

    `params`: the whole validated params.yaml (schemas.Params): this is a check across sections, like the
    cross-section checks of schemas/params.py, which it runs with the data's class counts. Split files that are
    not there yet (the first run) check nothing.
    """
    from schemas.params import class_setting_problems

    counts: Counter[str] = Counter()
    for name in params.audit.splits:
        path = Path(split_dir) / f"{name}.parquet"
        if not path.is_file():
            return
        counts.update(label for label in pq.read_table(path, columns=["label"]).column("label").to_pylist() if label)
    problems = class_setting_problems(params, dict(counts))
    if problems:
        raise StageError(
            f"params.yaml does not fit the classes of {split_dir} ({len(counts)}: {', '.join(sorted(counts))}); "
            "fix it before any training:\n" + "\n".join(f"  - {p}" for p in problems)
        )
