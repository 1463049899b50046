"""label: import annotation exports, map labels to the label set, aggregate annotators, measure agreement.

Reads clean's rows; writes them back with `label` (the aggregated label, null
when none), `label_votes` (every valid vote: annotator, label, import, ground
truth) and `label_agreement` (share of votes for the chosen label, or its
Dawid-Skene posterior). Annotations that match no row go to the unmatched
file; unusable ones (unknown label, no key...) and dropped rows to rejects,
each with its reason. `rows_in == rows_out + sum(dropped)` always. The import
plumbing is in stages/lib/label/imports.py. With `task: sft`: reviewed answers and ratings (`run_sft`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.label import LabelParams
from schemas.paths import LabelPaths
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, read_rows, together, write_parquet, write_parquets
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import rejects_table
from stages.lib.label import corrections, imports, votes

log = get_logger("label")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out", "agreement.disagreement_share")


def run(cfg: LabelParams, paths: LabelPaths, rows_path: str | Path, root: Path = Path(".")) -> dict[str, Any]:
    """Import, aggregate and write rows, rejects and unmatched annotations; return the metrics.

    Raises StageError, before writing anything, when an import is missing or lies
    outside `paths.annotations`, when no annotation of an import matches a row
    (wrong `join`/`key`), or when more than `max_reject_fraction` of an import's
    annotations are unusable (wrong `format`/`question`, missing aliases).
    """
    table = read_rows(rows_path)
    rows = table.to_pylist()
    label_map = votes.LabelMap(cfg.classes, cfg.aliases, cfg.ignore_case)
    found = imports.import_votes(cfg, paths.annotations, rows, label_map, root)
    if cfg.source_labels != "ignore":
        imports.source_votes(rows, found, cfg.source_labels == "fallback", label_map, cfg.max_reject_fraction)

    ids = [r["id"] for r in rows]
    classes = list(cfg.classes) or sorted({v.label for by in found.votes.values() for vs in by.values() for v in vs})
    flat = imports.flat_votes(found, ids)
    rounds = {imp.name: imp.round for imp in cfg.imports if imp.round is not None}

    def decide(by_row: dict[str, list[votes.Vote]]) -> dict[str, tuple[str | None, float | None, bool]]:
        return votes.aggregate(
            ids, by_row, classes, cfg.aggregation, cfg.tie_break, cfg.ground_truth_wins, cfg.dawid_skene_iterations
        )

    decided = decide(corrections.votes_upto(flat, rounds, cfg.corrections, max(rounds.values(), default=0)))
    changes = corrections.history(flat, rounds, cfg.corrections, decide) if rounds else []
    kept, dropped = imports.decide_rows(rows, flat, decided, cfg.tie_break, cfg.keep_unlabeled, found)
    write_parquets(
        {
            paths.rows: pa.Table.from_pylist(kept, schema=imports.out_schema(table.schema)),
            paths.rejects: rejects_table(found.rejects),
            paths.unmatched: pa.Table.from_pylist(found.unmatched, schema=pa.schema(imports.UNMATCHED_FIELDS)),
            paths.history: pa.Table.from_pylist(changes, schema=corrections.HISTORY_SCHEMA),
        }
    )
    log.info(
        "wrote %d rows to %s, %d rejects, %d unmatched annotations",
        len(kept),
        paths.rows,
        len(found.rejects),
        len(found.unmatched),
    )
    metrics = imports.metrics(len(rows), kept, dropped, found, classes, flat, decided)
    metrics["relabeled"] = corrections.summary(changes, classes)
    return metrics


def run_sft(
    cfg: Any,
    paths: LabelPaths,
    rows_path: str | Path,
    normalize: dict,
    pii: dict,
    filters: dict | None = None,
    root: Path = Path("."),
) -> dict[str, Any]:
    """The SFT pipeline's label (`task: sft`): reviewed answers and ratings from the annotations folder applied
    to clean's conversations (stages/lib/label/conversations.py); an edited answer takes clean's path for an
    assistant turn (`normalize`, `pii`, `filters`: clean's settings), and one its filters refuse is a counted
    reject (`answer_filtered`). No correction file: the rows pass unchanged, byte for byte.

    Raises StageError, before writing anything, when more than `label.max_unmatched_fraction` of the
    corrections name no conversation.
    """
    from stages.lib.label import conversations as conv

    table = read_rows(rows_path)
    files = [(f.as_posix(), f) for f in conv.correction_files(paths.annotations, root)]
    corrections = [(rel, conv.read_corrections(f, rel)) for rel, f in files]
    result = conv.apply(table.to_pylist(), corrections, cfg.min_rating, conv.answer_path(normalize, pii, filters or {}))
    read, unmatched = result["counts"]["read"], result["counts"]["unmatched"]
    if read and unmatched / read > cfg.max_unmatched_fraction:
        raise StageError(
            f"label: {unmatched} of {read} corrections name no conversation (> label.max_unmatched_fraction="
            f"{cfg.max_unmatched_fraction}); are the files in {paths.annotations} from this project's review?"
        )
    with together():
        if not result["edited"] and len(result["kept"]) == table.num_rows:
            with atomic_path(paths.rows) as tmp:
                shutil.copyfile(rows_path, tmp)  # nothing changed: the same bytes, so split does not rerun
        else:
            write_parquet(pa.Table.from_pylist(result["kept"], schema=table.schema), paths.rows)
        write_parquets(
            {
                paths.rejects: rejects_table(result["rejects"]),
                paths.unmatched: pa.Table.from_pylist(result["unmatched"], schema=conv.UNMATCHED_SCHEMA),
                paths.history: pa.Table.from_pylist(result["history"], schema=conv.HISTORY_SCHEMA),
            }
        )
    log.info("%d corrections from %d files: %d edited, %d dropped", read, len(files), result["edited"],
             table.num_rows - len(result["kept"]))  # fmt: skip
    return conv.metrics(table.num_rows, result, len(files))


def main_sft(params: Any) -> None:
    """label for `task: sft` (it also reads clean's text settings: sft/dvc.yaml declares them)."""
    p = params.paths.label
    clean = params.clean
    text = {
        "normalize": clean.normalize.model_dump(),
        "pii": clean.pii.model_dump(),
        "filters": {role: f.model_dump() for role, f in clean.filters.items()},
    }
    metrics = run_sft(params.label, p, params.paths.clean.rows, **text)
    write_metrics(metrics, ("rows_out", "edited", "dropped.low_rating"), p.metrics, p.details)


def main() -> None:
    params = load_params()
    if params.task == "sft":
        return main_sft(params)
    metrics = run(params.label, params.paths.label, params.paths.clean.rows)
    p = params.paths.label
    headline = HEADLINE + (("relabeled.rows",) if metrics.get("relabeled", {}).get("rows") else ())
    write_metrics(metrics, headline, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
