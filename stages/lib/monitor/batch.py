"""monitor's incoming batch: every file of `monitor.sources`, made into model text by the one text path;
the labelled split rows it is compared with."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from schemas.clean import CleanParams
from schemas.ingest import Source
from stages.lib.core import ids
from stages.lib.core.errors import StageError
from stages.lib.core.io import read_rows
from stages.lib.ingest.readers import NoFiles, read_source, resolve_files
from stages.lib.text.prepare import build_text_prep, prepare_records


def read_batch(
    sources: dict[str, Source], clean: CleanParams, root: Path, *, max_reject_fraction: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Incoming rows (id, text, source, location), rejects, and the number of records read.

    Each record becomes model text through the one text path (fields, `clean.normalize`, `clean.pii`), so the
    batch is compared with train rows made the same way. Only a source that names no file at all is "nothing
    arrived": a refused file (outside `root`) is a StageError, and a source with more than `max_reject_fraction`
    of its records rejected (all of them undecodable, say) is a StageError too, never an empty batch.
    """
    prep = build_text_prep(normalize=clean.normalize.model_dump(), pii=clean.pii.model_dump())
    rows, rejects, read = [], [], 0
    for source in sources.values():
        try:
            resolve_files(source, root)
        except NoFiles:
            continue  # nothing arrived for this source
        records = list(read_source(source, root))
        read += len(records)
        kept, dropped = prepare_records(records, source.name, source.text_fields, prep, "monitor")
        too_many = len(dropped) / len(records) > max_reject_fraction if records else False
        if too_many or (dropped and not kept):
            counts = dict(sorted(Counter(r["reason"] for r in dropped).items()))
            examples = "; ".join(f"{r['location']}: {r['reason']}" for r in dropped[:3])
            raise StageError(
                f"monitor source '{source.name}': {len(dropped)} of {len(records)} records could not be used "
                f"({len(dropped) / len(records):.1%}, monitor.max_reject_fraction={max_reject_fraction}); reasons "
                f"{counts}; e.g. {examples}. Check the batch's format and encoding (monitor.sources.{source.name}), "
                "or raise monitor.max_reject_fraction. Previous outputs were left untouched."
            )
        rejects.extend(dropped)
        seen: Counter[str] = Counter()
        for rec, text in kept:
            seen[text] += 1
            row_id = ids.row_id(source.name, ids.content_key(text, None, seen[text]))
            rows.append({"id": row_id, "text": text, "source": source.name, "location": rec.location})
    rows.sort(key=lambda r: r["id"])
    return rows, rejects, read


def labelled(path: Path) -> list[dict[str, Any]]:
    """The labelled rows (id, text, label) of one split file, sorted by id; StageError when it is missing."""
    if not path.is_file():
        raise StageError(f"monitor: {path} is missing; run dvc repro split")
    return sorted(
        (r for r in read_rows(path).select(["id", "text", "label"]).to_pylist() if r["label"]), key=lambda r: r["id"]
    )
