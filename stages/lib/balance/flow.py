"""Class counts through the pipeline (ingest, clean, label, split's train rows, augment, balance), one row per
class and phase, for the plot "Rows per class through the pipeline" (the class_flow template)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (phase, where its per-class counts sit in that stage's details file); in pipeline order.
UPSTREAM = (
    ("ingested", ("labels",)),
    ("cleaned", ("labels",)),
    ("labelled", ("classes",)),
)
# balance's own counts (split's train rows, after augment, after balance), keyed as in its metrics.
OWN = (("split (train)", "split"), ("augmented", "before"), ("balanced", "after"))
# ingest counts rows without a label under this key; they are not a class.
NO_LABEL = "<none>"


def upstream_counts(details: dict[str, str | Path]) -> dict[str, dict[str, int]]:
    """Per-class counts of ingest, clean and label from their details files ({phase: {class: rows}}).

    `details` maps "ingested", "cleaned", "labelled" to a details file; a phase whose file is missing or does not
    record per-class counts (clean records none today) is left out of the plot rather than drawn as zero."""
    out: dict[str, dict[str, int]] = {}
    for phase, keys in UPSTREAM:
        path = Path(details.get(phase, ""))
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        counts = next((data[k] for k in keys if isinstance(data.get(k), dict)), None)
        if counts is not None:
            out[phase] = {str(c): int(n) for c, n in counts.items() if c != NO_LABEL}
    return out


def flow_rows(upstream: dict[str, dict[str, int]], own: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """One row per (class, phase): `order` is the phase's place in the pipeline (1 ingested ... 6 balanced, fixed
    so that revisions line up), `bar` "<class> | <phase>".

    A class absent from a phase gets 0 rows there (for example a class that only augmentation adds)."""
    phases = [(i, p, upstream[p]) for i, (p, _) in enumerate(UPSTREAM, 1) if p in upstream]
    phases += [(i, p, own.get(key, {})) for i, (p, key) in enumerate(OWN, len(UPSTREAM) + 1)]
    labels = sorted(set().union(*(counts for _, _, counts in phases)))
    return [
        {"bar": f"{label} | {phase}", "class": label, "phase": phase, "order": i, "rows": counts.get(label, 0)}
        for label in labels
        for i, phase, counts in phases
    ]
