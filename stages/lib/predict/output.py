"""predict's outputs: one row per prediction in OUTPUT (.csv, .jsonl or .parquet) and its rejects beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from stages.lib.core.io import atomic_path, together, write_parquet
from stages.lib.core.spreadsheet import neutralise_table

OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")


def rejects_path(output: Path) -> Path:
    """`out.rejects.jsonl` beside `out.csv`: the rows of the input that could not become model text."""
    return output.with_name(output.stem + ".rejects.jsonl")


def outputs(output: Path) -> list[Path]:
    """Every path a run writing `output` may replace (the key of its journal)."""
    return [output, rejects_path(output)]


def prediction_table(locations: Sequence[str], texts: Sequence[str], probs: Any, labels: Sequence[str]) -> pa.Table:
    """location, text, predicted label, confidence and prob_<label> per class, one row per text."""
    return pa.table(
        {
            "location": pa.array(locations, pa.string()),
            "text": pa.array(texts, pa.string()),
            "predicted": pa.array([labels[int(p.argmax())] for p in probs], pa.string()),
            "confidence": pa.array([float(p.max()) for p in probs], pa.float64()),
            **{f"prob_{label}": pa.array([float(p[j]) for p in probs], pa.float64()) for j, label in enumerate(labels)},
        }
    )


def write_predictions(table: pa.Table, rejects: list[dict[str, Any]], output: Path) -> None:
    """OUTPUT and its rejects file, switched together (all old or all new, also under SIGKILL in a stage).

    The rejects file is written when there are rejects, or to empty an old one: no empty file per clean run,
    and never a stale one beside new predictions.
    """
    path = rejects_path(output)
    with together():
        write_table(table, output)
        if rejects or path.exists():
            with atomic_path(path) as tmp:
                tmp.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rejects))


def write_table(table: pa.Table, path: Path) -> None:
    """One table as Parquet, CSV (spreadsheet formulas neutralised: the text is untrusted) or JSON lines."""
    if path.suffix == ".parquet":
        write_parquet(table, path)
        return
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(neutralise_table(table), tmp)
        else:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist()))
