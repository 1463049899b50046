"""Label imports: read every annotation export, turn annotations into votes, count what did not become one.

The label stage orchestrates: `import_votes` reads the imports in order (a later import from the same
annotator replaces their earlier votes), `source_votes` adds the rows' own labels, `decide_rows` keeps or
drops each row with its aggregated label, and `metrics` counts it all with every reason present.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas.label import LOSSY_FORMATS, LabelImport, LabelParams
from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger, progress
from stages.lib.core.rejects import reject, storable
from stages.lib.label import votes
from stages.lib.label.annotations import ANONYMOUS, PROBLEMS, SKIP_REASONS, Annotation, read_import

log = get_logger("label")

ROW_REASONS = ("tie", "unlabeled")  # why a row is dropped
VOTE_REASONS = (*PROBLEMS, "multiple_labels", "unknown_label")  # why an annotation is rejected
SOURCE = "source"  # annotator and import name of the labels already in the rows

VOTE_TYPE = pa.list_(
    pa.struct(
        [
            pa.field("annotator", pa.string()),
            pa.field("label", pa.string()),
            pa.field("import", pa.string()),
            pa.field("ground_truth", pa.bool_()),
        ]
    )
)
UNMATCHED_FIELDS = [pa.field(name, pa.string()) for name in ("import", "location", "annotator", "key", "label", "raw")]


@dataclass
class Found:
    """Everything the imports produced: votes by row and (import, annotator), and what did not become one."""

    votes: dict[str, dict[tuple[str, str], list[votes.Vote]]] = field(default_factory=lambda: defaultdict(dict))
    rejects: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    per_import: dict[str, Any] = field(default_factory=dict)
    replaced: int = 0


def import_votes(
    cfg: LabelParams, folder: str, rows: list[dict[str, Any]], label_map: votes.LabelMap, root: Path
) -> Found:
    """Read every import in order; a later import from the same annotator replaces their earlier votes on a row."""
    found = Found()
    index = votes.JoinIndex(rows)
    for imp in cfg.imports:
        _check_inside(imp, folder, root)
        if imp.format in LOSSY_FORMATS:
            log.warning(
                "import '%s': %s exports drop cancelled annotations and ground-truth flags; prefer the "
                "full JSON export (format label_studio)",
                imp.name,
                imp.format,
            )
        mine: dict[str, dict[tuple[str, str], list[votes.Vote]]] = defaultdict(dict)
        counts = _new_counts()
        for ann in progress(read_import(imp, root), desc=f"read {imp.name}", unit="annotations"):
            counts["read"] += 1
            _classify(ann, imp, index, label_map, mine, counts, found)
        _check_import(imp.name, counts, cfg.max_reject_fraction, found.rejects)
        for row_id, by_annotator in mine.items():
            for (_, annotator), new in by_annotator.items():
                old = [k for k in found.votes[row_id] if k[1] == annotator]  # imported corrections win
                found.replaced += sum(len(found.votes[row_id].pop(k)) for k in old)
                found.votes[row_id][(imp.name, annotator)] = new
        found.per_import[imp.name] = counts
        log.info(
            "import '%s': %d annotations, %d votes, %d unmatched, rejected %s, skipped %s",
            imp.name,
            counts["read"],
            counts["votes"],
            counts["unmatched"],
            _nonzero(counts["rejected"]),
            _nonzero(counts["skipped"]),
        )
    return found


def source_votes(
    rows: list[dict[str, Any]], found: Found, fallback: bool, label_map: votes.LabelMap, max_reject_fraction: float
) -> None:
    """The rows' own labels as votes of annotator `source` (with `fallback`, only where no import voted)."""
    counts = _new_counts()
    for row in rows:
        if row["label"] is None or (fallback and found.votes.get(row["id"])):
            continue
        counts["read"] += 1
        label = label_map(row["label"])
        if label is None:
            counts["rejected"]["unknown_label"] += 1
            detail = _unknown(row["label"], label_map.classes)
            found.rejects.append(_reject("unknown_label", SOURCE, row.get("location"), row["id"], detail, row["label"]))
            continue
        counts["votes"] += 1
        found.votes[row["id"]][(SOURCE, SOURCE)] = [votes.Vote(SOURCE, label, SOURCE, False)]
    _check_import(SOURCE, counts, max_reject_fraction, found.rejects)
    found.per_import[SOURCE] = counts


def _classify(
    ann: Annotation,
    imp: LabelImport,
    index: votes.JoinIndex,
    label_map: votes.LabelMap,
    mine: dict[str, dict[tuple[str, str], list[votes.Vote]]],
    counts: dict[str, Any],
    found: Found,
) -> None:
    """Count one annotation as skipped, rejected, unmatched, or votes for its rows."""
    if ann.skip:
        counts["skipped"][ann.skip] += 1
        return
    if ann.problem:
        counts["rejected"][ann.problem] += 1
        found.rejects.append(_reject(ann.problem, imp.name, ann.location, None, ann.detail, ann.raw))
        return
    row_ids = index.match(imp, ann.key)
    if not row_ids:
        counts["unmatched"] += 1
        found.unmatched.append(
            {
                "import": imp.name,
                "location": storable(ann.location),
                "annotator": storable(ann.annotator),
                "key": storable(ann.key),
                "label": storable(json.dumps(ann.labels, ensure_ascii=False)),
                "raw": storable(ann.raw),
            }
        )
        return
    mapped = [label_map(raw) for raw in ann.labels]
    unknown = [raw for raw, label in zip(ann.labels, mapped) if label is None]
    labels = sorted({label for label in mapped if label is not None})
    reason, detail = None, None
    if unknown:
        reason, detail = "unknown_label", _unknown(unknown[0], label_map.classes)
    elif len(labels) > 1:
        reason, detail = "multiple_labels", f"labels {ann.labels}: a single-label task takes one"
    if reason:
        counts["rejected"][reason] += 1
        for row_id in row_ids:
            found.rejects.append(_reject(reason, imp.name, ann.location, row_id, detail, ann.raw))
        return
    # One vote per named annotator per row and import (a review round is one import): an identical repeat (the
    # same export saved twice in the folder, an annotation repeated in a task) is counted in `duplicates`, not
    # voted again, and a differing later one replaces the earlier, as a later import from the same annotator does.
    # An anonymous annotator (ANONYMOUS) may be several people, so each of its annotations stays a vote.
    vote = votes.Vote(ann.annotator, labels[0], imp.name, ann.ground_truth)
    if ann.annotator in ANONYMOUS:
        counts["votes"] += 1
        for row_id in row_ids:
            mine[row_id].setdefault((imp.name, ann.annotator), []).append(vote)
        return
    fresh = False
    for row_id in row_ids:
        held = mine[row_id].get((imp.name, ann.annotator))
        if held and vote in held:
            continue
        fresh = True
        if held:
            found.replaced += len(held)
        mine[row_id][(imp.name, ann.annotator)] = [vote]
    counts["votes" if fresh else "duplicates"] += 1


def flat_votes(found: Found, ids: list[str]) -> dict[str, list[votes.Vote]]:
    """Every row's votes across imports, in (annotator, import) order."""
    return {
        i: sorted((v for vs in found.votes.get(i, {}).values() for v in vs), key=lambda v: (v.annotator, v.import_name))
        for i in ids
    }


def decide_rows(
    rows: list[dict[str, Any]],
    flat: dict[str, list[votes.Vote]],
    decided: dict[str, tuple[str | None, float | None, bool]],
    tie_break: str,
    keep_unlabeled: bool,
    found: Found,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The kept rows (sorted by id) with their label, votes and agreement, and the dropped ones counted by
    reason; each dropped row goes to `found.rejects` with the votes that decided it."""
    kept, dropped = [], Counter()
    for row in rows:
        label, score, tie = decided[row["id"]]
        tally = dict(sorted(Counter(v.label for v in flat[row["id"]]).items()))
        reason = "tie" if tie and tie_break == "reject" else None
        if reason is None and label is None and not keep_unlabeled:
            reason = "unlabeled"
        if reason:
            dropped[reason] += 1
            detail = f"votes tied: {tally}" if tie else "no usable vote"
            found.rejects.append(_reject(reason, row["source"], row.get("location"), row["id"], detail, row["text"]))
            continue
        votes_out = [
            {"annotator": v.annotator, "label": v.label, "import": v.import_name, "ground_truth": v.ground_truth}
            for v in flat[row["id"]]
        ]
        kept.append({**row, "label": label, "label_votes": votes_out, "label_agreement": score})
    kept.sort(key=lambda r: r["id"])
    found.rejects.sort(key=lambda r: (r["reason"], r["source"] or "", r["location"] or "", r["id"] or ""))
    found.unmatched.sort(key=lambda r: (r["import"], r["location"]))
    return kept, dropped


def metrics(
    rows_in: int,
    kept: list[dict[str, Any]],
    dropped: Counter[str],
    found: Found,
    classes: list[str],
    flat: dict[str, list[votes.Vote]],
    decided: dict[str, tuple[str | None, float | None, bool]],
) -> dict[str, Any]:
    total = _new_counts()
    for c in found.per_import.values():
        for k in ("read", "votes", "duplicates", "unmatched"):
            total[k] += c[k]
        for k in ("rejected", "skipped"):
            total[k].update(c[k])
    labeled = Counter(r["label"] for r in kept if r["label"] is not None)
    return {
        "rows_in": rows_in,
        "rows_out": len(kept),
        "dropped": {r: dropped.get(r, 0) for r in ROW_REASONS},
        "classes": {c: labeled.get(c, 0) for c in classes},
        "labeled": sum(labeled.values()),
        "unlabeled": sum(r["label"] is None for r in kept),
        "annotations": {
            **_plain(total),
            "replaced": found.replaced,
            "imports": {k: _plain(v) for k, v in found.per_import.items()},
        },
        "agreement": votes.agreement_summary(flat, classes, decided),
    }


def _new_counts() -> dict[str, Any]:
    return {"read": 0, "votes": 0, "duplicates": 0, "unmatched": 0, "rejected": Counter(), "skipped": Counter()}


def _plain(counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "read": counts["read"],
        "votes": counts["votes"],
        "duplicates": counts["duplicates"],
        "unmatched": counts["unmatched"],
        "rejected": {r: counts["rejected"].get(r, 0) for r in VOTE_REASONS},
        "skipped": {r: counts["skipped"].get(r, 0) for r in SKIP_REASONS},
    }


def _nonzero(counter: Counter[str]) -> dict[str, int] | str:
    return {k: v for k, v in sorted(counter.items()) if v} or "none"


def _check_import(name: str, counts: dict[str, Any], limit: float, rejects: list[dict[str, Any]]) -> None:
    usable = counts["read"] - sum(counts["skipped"].values())
    bad = sum(counts["rejected"].values())
    if usable and bad / usable > limit:
        mine = [r for r in rejects if r["source"] == name][:3]
        examples = "; ".join(f"{r['location']}: {r['reason']} ({r['detail']})" for r in mine)
        raise StageError(
            f"label import '{name}': {bad} of {usable} annotations are unusable ({bad / usable:.1%} > "
            f"label.max_reject_fraction={limit}); {_nonzero(counts['rejected'])}; e.g. {examples}. Check `format`, "
            "`question`, `key` and label.classes/aliases. Previous outputs were left untouched."
        )
    if name != SOURCE and usable - bad > 0 and counts["votes"] == 0:
        raise StageError(
            f"label import '{name}': none of its {usable - bad} annotations matched a row; check `join` and `key` "
            "(join: id needs the row ids in the export; join: text compares normalised texts)"
        )


def _check_inside(imp: LabelImport, folder: str, root: Path) -> None:
    base = (root / folder).resolve()
    target = (root / imp.path.split("*")[0]).resolve()
    if not (target == base or target.is_relative_to(base)):
        raise StageError(
            f"label import '{imp.name}': {imp.path} is outside {folder}/, which dvc.yaml watches; move the export "
            "there so that a new export reruns label"
        )


def _unknown(raw: str, classes: list[str]) -> str:
    return f"label {raw!r} is not in label.classes {classes} nor in label.aliases"


def _reject(
    reason: str, source: str | None, location: str | None, row_id: str | None, detail: str | None, raw: str | None
) -> dict[str, Any]:
    return reject("label", reason, source=source, location=location, row_id=row_id, detail=detail, raw=raw)


def out_schema(schema: pa.Schema) -> pa.Schema:
    fields = [pa.field("label", pa.string()) if f.name == "label" else f for f in schema]
    fields = [f for f in fields if f.name not in ("label_votes", "label_agreement")]
    return pa.schema([*fields, pa.field("label_votes", VOTE_TYPE), pa.field("label_agreement", pa.float64())])
