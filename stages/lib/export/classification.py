"""Export the classification pipeline's splits the same way: a DatasetDict with a ClassLabel and a card."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from stages.lib.core.errors import StageError
from stages.lib.export import card
from stages.lib.export.dataset import classification_features, save_dataset_dict

SPLITS = ("train", "validation", "test")


def export_classification(
    split_dir: Path,
    details: Mapping[str, Mapping[str, Any]],
    out: Path,
    *,
    license: str,
    license_name: str | None,
    license_link: str | None,
    language: list[str],
    pretty_name: str,
) -> dict[str, Any]:
    """Write `out/dataset/` (DatasetDict: id, source, text, label as ClassLabel), `out/<split>.jsonl` and
    `out/README.md` (card with rows per split and label, rejects by stage and reason); returns the metrics."""
    splits = {}
    for split in SPLITS:
        path = split_dir / f"{split}.parquet"
        if not path.is_file():
            raise StageError(f"{path} is missing; run the split stage first (dvc repro)")
        rows = pq.read_table(path, columns=["id", "source", "text", "label"]).to_pylist()
        splits[split] = sorted(rows, key=lambda r: r["id"])
    unlabeled = [r["id"] for v in splits.values() for r in v if r["label"] is None]
    if unlabeled:
        raise StageError(
            f"{len(unlabeled)} rows of the splits have no label (first: {unlabeled[0]}); split keeps "
            "unlabeled rows apart, so the split folder is not split's output"
        )
    labels = sorted({r["label"] for v in splits.values() for r in v})
    save_dataset_dict(splits, classification_features(labels), out / "dataset")
    for split, rows in splits.items():
        (out / f"{split}.jsonl").write_text(
            "".join(json.dumps({"text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n" for r in rows),
            encoding="utf-8",
        )
    n = sum(len(v) for v in splits.values())
    counts = Counter((s, r["label"]) for s, v in splits.items() for r in v)
    head = card.header(
        license,
        license_name,
        license_link,
        language,
        ["text-classification"],
        pretty_name,
        n,
        {s: f"{s}.jsonl" for s in SPLITS},
        ["refinery"],
    )
    body = [
        f"# {pretty_name}\n\nText classification data prepared by Refinery (ingest, clean, label, split). "
        f"Labels: {', '.join(labels)} (ClassLabel ids in this order).\n\n## Rows per split and label\n\n",
        card.table(["split", "label", "rows"], [[s, lab, c] for (s, lab), c in sorted(counts.items())]),
        "\n",
        card.licence_section(license, license_name, license_link),
        card.rejects_section(details),
        card.checks_section(details, ("leak", "noise", "conflict", "label_error")),
        "\n## Use\n\n```python\nfrom datasets import load_from_disk\nds = load_from_disk('dataset')\n```\n",
    ]
    (out / "README.md").write_text(head + "\n" + "".join(body), encoding="utf-8")
    return {
        "rows_in": n,
        "rows_out": n,
        "dropped": {},
        "splits": {s: len(v) for s, v in splits.items()},
        "labels": len(labels),
    }
