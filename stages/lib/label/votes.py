"""Votes: mapping labels to the label set, joining annotations to rows, aggregating and summarising them.

Used by the label stage; the maths (majority, Dawid-Skene, kappas, alpha) is in
`stages.lib.label.agreement`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.label import LabelImport
from stages.lib.core import ids
from stages.lib.core.errors import StageError
from stages.lib.core.ids import text_key
from stages.lib.label import agreement


@dataclass(frozen=True)
class Vote:
    annotator: str
    label: str
    import_name: str
    ground_truth: bool


class LabelMap:
    """Raw label -> class, through `classes` and `aliases`; None for a label outside the set."""

    def __init__(self, classes: list[str], aliases: dict[str, str], ignore_case: bool):
        self.open = not classes
        self.classes = list(classes)
        self.fold = (lambda s: s.strip().casefold()) if ignore_case else (lambda s: s.strip())
        self.table = {self.fold(c): c for c in classes}
        self.table |= {self.fold(k): self.table[self.fold(v)] for k, v in aliases.items()} if classes else {}
        self.aliases = {self.fold(k): v for k, v in aliases.items()}

    def __call__(self, raw: str) -> str | None:
        key = self.fold(raw)
        if self.open:
            return self.aliases.get(key, raw.strip())
        return self.table.get(key)


class JoinIndex:
    """Row ids by id, by a source's own id, by any rows column, and by normalised-text hash (`text`, `text_raw`)."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows
        self.ids = {r["id"] for r in rows}
        self.columns = set(rows[0]) if rows else set()
        self._by_field: dict[str, dict[str, list[str]]] = {}
        self._by_text: dict[str, list[str]] | None = None

    def match(self, imp: LabelImport, key: str) -> list[str]:
        if imp.join == "id":
            return [key] if key in self.ids else []
        if imp.join == "source_id":  # the row id ingest made from the source's own id
            row = ids.row_id(imp.source, ids.source_id_key(key))
            return [row] if row in self.ids else []
        if imp.join == "text":
            if self._by_text is None:
                self._by_text = defaultdict(list)
                for r in self.rows:
                    for k in {text_key(r["text"]), text_key(r.get("text_raw") or r["text"])}:
                        self._by_text[k].append(r["id"])
            return self._by_text.get(text_key(key), [])
        column = imp.row_field
        if column not in self.columns:
            raise StageError(
                f"label import '{imp.name}': row_field '{column}' is not a rows column; columns: "
                f"{', '.join(sorted(self.columns))} (keep a source's id with ingest keep_fields)"
            )
        if column not in self._by_field:
            table: dict[str, list[str]] = defaultdict(list)
            for r in self.rows:
                if r.get(column) is not None:
                    table[str(r[column])].append(r["id"])
            self._by_field[column] = table
        return self._by_field[column].get(key, [])


def aggregate(
    ids: list[str],
    votes: dict[str, list[Vote]],
    classes: list[str],
    method: str,
    tie_break: str,
    ground_truth_wins: bool,
    iterations: int,
) -> dict[str, tuple[str | None, float | None, bool]]:
    """Row id -> (label, agreement, tie). Ground-truth votes decide alone; the rest by `method`."""
    position = {c: i for i, c in enumerate(classes)}
    posterior = None
    if method == "dawid_skene":
        names = sorted({v.annotator for vs in votes.values() for v in vs})
        who = {n: i for i, n in enumerate(names)}
        item_of = {i: n for n, i in enumerate(ids)}
        triples = [(item_of[i], who[v.annotator], position[v.label]) for i in ids for v in votes[i]]
        if triples:
            items, anns, labs = (list(t) for t in zip(*triples))
            posterior = agreement.dawid_skene(
                items, anns, labs, len(ids), len(names), len(classes), max_iter=iterations
            )
    out: dict[str, tuple[str | None, float | None, bool]] = {}
    for n, row_id in enumerate(ids):
        row_votes = votes[row_id]
        if not row_votes:
            out[row_id] = (None, None, False)
            continue
        truth = [v for v in row_votes if v.ground_truth] if ground_truth_wins else []
        pool = truth or row_votes
        if posterior is not None and not truth:
            best = int(np.argmax(posterior[n]))
            out[row_id] = (classes[best], round(float(posterior[n][best]), 6), False)
            continue
        tied, _ = agreement.majority([position[v.label] for v in pool], len(classes))
        if len(tied) > 1 and tie_break != "class_order":
            out[row_id] = (None, None, True)
            continue
        label = classes[tied[0]]
        share = sum(v.label == label for v in row_votes) / len(row_votes)
        out[row_id] = (label, round(share, 6), len(tied) > 1)
    return out


def agreement_summary(
    votes: dict[str, list[Vote]], classes: list[str], decided: dict[str, tuple[str | None, float | None, bool]]
) -> dict[str, Any]:
    """The `agreement` metrics: kappas and alpha over rows with two or more votes, shares and counts."""
    position = {c: i for i, c in enumerate(classes)}
    multi = [vs for vs in votes.values() if len(vs) >= 2]
    counts = np.zeros((len(multi), len(classes)))
    for n, vs in enumerate(multi):
        for v in vs:
            counts[n, position[v.label]] += 1
    annotators = sorted({v.annotator for vs in votes.values() for v in vs})
    cohen = None
    if len(annotators) == 2:
        pairs = []
        for vs in votes.values():
            by = defaultdict(list)
            for v in vs:
                by[v.annotator].append(v.label)
            if all(len(by[a]) == 1 for a in annotators):
                pairs.append((by[annotators[0]][0], by[annotators[1]][0]))
        cohen = agreement.cohen_kappa([p[0] for p in pairs], [p[1] for p in pairs], classes)
    return {
        "annotators": len(annotators),
        "votes_per_annotator": dict(Counter(v.annotator for vs in votes.values() for v in vs).most_common()),
        "rows_with_votes": sum(bool(vs) for vs in votes.values()),
        "rows_multi_vote": len(multi),
        "disagreement_share": round(sum(len({v.label for v in vs}) > 1 for vs in multi) / len(multi), 6)
        if multi
        else 0.0,
        "ties": sum(t for _, _, t in decided.values()),
        "ground_truth_rows": sum(any(v.ground_truth for v in vs) for vs in votes.values()),
        "cohen_kappa": cohen,
        "fleiss_kappa": agreement.fleiss_kappa(counts),
        "krippendorff_alpha": agreement.krippendorff_alpha(counts),
    }
