"""Benchmark files for decontamination: JSONL records (chosen string fields joined) or one text per line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from stages.lib.core.errors import StageError


def read_benchmark(path: str | Path, format: str, fields: Sequence[str], name: str) -> list[str]:
    """The texts of one benchmark file. Raises StageError naming the file, the line and the params key when the
    file is missing or a JSONL line is not a JSON object (a broken evaluation set must not pass silently)."""
    path = Path(path)
    if not path.is_file():
        raise StageError(f"decontaminate.benchmarks.{name}.path: {path} not found; put the file there or remove it")
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if format == "text":
            texts.append(line)
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise StageError(f"decontaminate.benchmarks.{name}: {path}:{number} is not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise StageError(f"decontaminate.benchmarks.{name}: {path}:{number} is not a JSON object")
        parts = [record[f] for f in fields if isinstance(record.get(f), str)]
        if not parts:
            raise StageError(
                f"decontaminate.benchmarks.{name}: {path}:{number} has none of the fields {list(fields)} as text; "
                f"set decontaminate.benchmarks.{name}.fields (it has {', '.join(sorted(record))})"
            )
        texts.append(" ".join(parts))
    return texts
