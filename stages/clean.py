"""clean: normalise, filter, mask PII, remove exact and near duplicates, resolve label conflicts.

Two passes over Arrow batches. Pass 1 (in `num_proc` workers) normalises, filters and masks each batch,
spills the kept rows to part files and returns only hashes and LSH band keys. Between the passes the
parent finds exact groups, LSH candidates (verified by true Jaccard), clusters and survivors on those
small arrays. Pass 2 streams the parts again and writes rows and rejects, both sorted by id.
`rows_in == rows_out + sum(dropped)` always; every dropped row is in the rejects file with its reason.
With `engine: ray` pass 1 and the LSH bucketing run on Ray Data (stages/lib/engine/clean.py) with the same
per-batch code; the outputs are the same bytes.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import load_params
from schemas.clean import CleanParams
from schemas.engine import EngineParams
from schemas.paths import CleanPaths
from schemas.rows import ROW_COLUMNS
from stages.lib.clean import filters, pii
from stages.lib.clean.batch import BatchCleaner, BatchResult, read_ipc
from stages.lib.clean.clusters import KEEP, LABEL_CONFLICT, STATUS_REASON, Decisions, decide
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, parquet_writer, scratch_dir, together
from stages.lib.core.log import get_logger, progress
from stages.lib.core.metrics import write_metrics
from stages.lib.core.parallel import ordered_map
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.engine import clean as on_ray
from stages.lib.engine.session import ray_session
from stages.lib.text import near_dup, normalize

log = get_logger("clean")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("rows_in", "rows_out")

# Every reason a row can be dropped here; all are written (zeros too) so metric keys stay stable.
REASONS = (*filters.REASONS, "exact_dup", "near_dup", "label_conflict")
_VERIFY_CHUNK = 50_000  # candidate pairs whose texts are held at once during verification


def run(
    cfg: CleanParams, paths: CleanPaths, input_rows: str | Path, engine: EngineParams | None = None
) -> dict[str, Any]:
    """Clean the rows in `input_rows`; write rows and rejects atomically; return the metrics.

    `engine` (default local) says where pass 1 and the LSH bucketing run; the outputs do not depend on it.

    Raises StageError, before writing anything, when the input is missing or breaks the row contract.
    """
    source = _checked_input(Path(input_rows))
    bands, rows = _lsh_shape(cfg)
    out_dir = Path(paths.rows).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    part_dir = str(scratch_dir(out_dir, ".clean-parts-"))  # journalled: a killed run's parts go at the next start
    engine = engine or EngineParams()
    try:
        t0 = time.perf_counter()
        if engine.kind == "ray":
            with ray_session(engine.ray.address, engine.ray.num_cpus) as cpus:
                factory = _cleaner_factory(cfg, part_dir, bands, rows)
                num_rows = source.metadata.num_rows
                results = on_ray.first_pass(factory, str(input_rows), num_rows, cfg.batch_size, part_dir, cpus)
                _check_not_empty(results, input_rows)
                t1 = time.perf_counter()
                dedup_stats, decisions, ids, names = _deduplicate(cfg, results, on_ray.candidate_pairs)
        else:
            results = _first_pass(cfg, Path(input_rows), source, part_dir, bands, rows)
            _check_not_empty(results, input_rows)
            t1 = time.perf_counter()
            dedup_stats, decisions, ids, names = _deduplicate(cfg, results, near_dup.candidate_pairs)
        t2 = time.perf_counter()
        metrics = _second_pass(paths, results, decisions, ids, names)
        t3 = time.perf_counter()
        # timings go to the log, not the metrics: metrics must not change when nothing else did
        log.info("seconds: normalise/filter/mask/minhash %.1f, dedup %.1f, write %.1f", t1 - t0, t2 - t1, t3 - t2)
    finally:
        shutil.rmtree(part_dir, ignore_errors=True)
    metrics["duplicates"] = dedup_stats | {"bands": bands, "rows": rows}
    metrics["label_conflicts"] = decisions.label_conflicts
    metrics["labels_changed"] = decisions.labels_changed
    metrics["labels_filled"] = decisions.labels_filled
    _log_summary(metrics)
    return metrics


def _checked_input(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise StageError(f"input rows {path} not found; run the ingest stage first (dvc repro ingest)")
    source = pq.ParquetFile(path)
    missing = [c for c in ROW_COLUMNS if c not in source.schema_arrow.names]
    if missing:
        raise StageError(f"{path} lacks the row columns {missing}; it has {source.schema_arrow.names}")
    return source


def _sorted_batches(source: pq.ParquetFile, batch_size: int, path: str) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Batches in order, checking on the way that ids strictly increase (so they are also unique).

    Sorted input keeps both outputs sorted without a global sort; ingest writes it so. A failure here
    comes before any output is written.
    """
    last = None
    for index, batch in enumerate(source.iter_batches(batch_size=batch_size)):
        ids = batch.column("id")
        if len(ids) == 0:
            continue
        inside = len(ids) < 2 or pc.all(pc.greater(ids[1:], ids[:-1])).as_py()
        if not inside or (last is not None and ids[0].as_py() <= last):
            raise StageError(f"{path} is not sorted by unique id; the ingest stage writes it so, rerun it")
        last = ids[-1].as_py()
        yield index, batch


def _check_not_empty(results: list[BatchResult], input_rows: str | Path) -> None:
    if not results:
        raise StageError(f"{input_rows} has no rows; nothing to clean (see the ingest metrics and rejects)")


def _lsh_shape(cfg: CleanParams) -> tuple[int, int]:
    nd = cfg.near_dup
    if nd.bands is not None and nd.rows is not None:
        return nd.bands, nd.rows
    assert nd.threshold is not None  # the schema requires threshold or bands+rows
    return near_dup.optimal_param(nd.threshold, nd.num_perm)


def _cleaner_factory(cfg: CleanParams, part_dir: str, bands: int, rows: int) -> partial[BatchCleaner]:
    n, f, nd = cfg.normalize, cfg.filters, cfg.near_dup
    return partial(
        BatchCleaner,
        part_dir=part_dir,
        normalize_steps={
            "ftfy": n.ftfy,
            "html": n.html,
            "unicode_form": n.unicode_form,
            "control_chars": n.control_chars,
            "whitespace": n.whitespace,
            "keep_newlines": n.keep_newlines,
        },
        filter_args={
            "min_chars_": f.min_chars,
            "max_chars_": f.max_chars,
            "min_words_": f.min_words,
            "max_words_": f.max_words,
            "languages": f.languages,
            "min_language_confidence": f.min_language_confidence,
            "min_alpha_ratio_": f.min_alpha_ratio,
            "max_symbol_ratio_": f.max_symbol_ratio,
            "max_dup_line_fraction": f.max_dup_line_fraction,
            "max_top_ngram_fraction": f.max_top_ngram_fraction,
            "max_dup_ngram_fraction": f.max_dup_ngram_fraction,
            "repetition_min_words": f.repetition_min_words,
            "deny_patterns": f.deny_patterns,
            "allow_patterns": f.allow_patterns,
        },
        pii_tokens={kind: getattr(cfg.pii, kind).token for kind in pii.KINDS if getattr(cfg.pii, kind).enabled},
        phone_region=cfg.pii.phone.region,
        near_dup=(
            {
                "unit": nd.unit,
                "ngram": nd.ngram,
                "lowercase": nd.lowercase,
                "num_perm": nd.num_perm,
                "seed": nd.seed,
                "bands": bands,
                "rows": rows,
            }
            if nd.enabled
            else None
        ),
    )


def _first_pass(
    cfg: CleanParams, path: Path, source: pq.ParquetFile, part_dir: str, bands: int, rows: int
) -> list[BatchResult]:
    batches = _sorted_batches(source, cfg.batch_size, str(path))
    factory = _cleaner_factory(cfg, part_dir, bands, rows)
    total = -(-source.metadata.num_rows // cfg.batch_size)
    return list(progress(ordered_map(factory, batches, cfg.num_proc), desc="clean", total=total, unit="batch"))


def _deduplicate(
    cfg: CleanParams, results: list[BatchResult], candidate_pairs: Callable[[np.ndarray], np.ndarray]
) -> tuple[dict[str, int], Decisions, pa.ChunkedArray, list[str]]:
    """Exact groups, LSH candidates (`candidate_pairs` of the band keys: in-process or on Ray), verification,
    clusters and decisions over all kept rows."""
    n = sum(len(r.hashes) for r in results)
    hashes = np.concatenate([r.hashes for r in results]) if results else np.empty(0, np.uint64)
    ids = pa.chunked_array([r.ids for r in results], type=pa.string())
    stats = {"exact_groups": 0, "candidate_pairs": 0, "verified_pairs": 0, "rejected_by_verification": 0}

    # Exact groups: equal 64-bit hash, and an equal second hash so a collision never merges different rows.
    if cfg.exact_dup.enabled:
        _, first_of, exact_group = np.unique(hashes, return_index=True, return_inverse=True)
        exact_group = exact_group.reshape(-1)
        checks = np.concatenate([r.checks for r in results])
        clash = np.flatnonzero(checks != checks[first_of[exact_group]])
        if len(clash):
            exact_group = _split_collisions(exact_group, checks, clash)
    else:
        exact_group = np.arange(n)
    first_row = np.unique(exact_group, return_index=True)[1]  # indexed by group label
    edges = [np.stack([first_row[exact_group], np.arange(n)], axis=1)]
    reps = np.sort(first_row)  # one row per exact group, in row order, for the LSH
    stats["exact_groups"] = int(np.count_nonzero(np.bincount(exact_group) > 1)) if n else 0

    nd = cfg.near_dup
    if nd.enabled and len(reps) > 1:
        pairs = reps[candidate_pairs(_rep_keys(results, reps))]  # the keys are freed right after
        stats["candidate_pairs"] = len(pairs)
        if nd.verify and len(pairs):
            sims = np.empty(len(pairs))
            for lo in range(0, len(pairs), _VERIFY_CHUNK):  # texts of one chunk of pairs at a time
                chunk = pairs[lo : lo + _VERIFY_CHUNK]
                need = np.unique(chunk)
                local = np.searchsorted(need, chunk)
                texts = _texts_at(results, need)
                sims[lo : lo + _VERIFY_CHUNK] = near_dup.jaccard_pairs(texts, local, nd.ngram, nd.unit, nd.lowercase)
            ok = sims >= nd.threshold
            stats["rejected_by_verification"] = int(np.count_nonzero(~ok))
            pairs = pairs[ok]
        stats["verified_pairs"] = len(pairs)
        edges.append(pairs)
    cluster = near_dup.connected_clusters(n, np.concatenate(edges).astype(np.int64))

    encoded = pa.chunked_array([r.labels for r in results], type=pa.string()).combine_chunks().dictionary_encode()
    names = encoded.dictionary.to_pylist()
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    lengths = np.concatenate([r.lengths for r in results]) if results else np.empty(0, np.int64)
    decisions = decide(cluster, exact_group, lengths, codes, names, cfg.survivor, cfg.on_label_conflict)
    stats["clusters"] = int(np.count_nonzero(np.bincount(cluster) > 1)) if n else 0
    return stats, decisions, ids, names


def _rep_keys(results: list[BatchResult], reps: np.ndarray) -> np.ndarray:
    """Band keys of the exact-group representatives, taken batch by batch; each batch's full keys are
    released once taken, so the largest per-row structure is never held twice."""
    out, offset = [], 0
    for r in results:
        assert r.keys is not None
        lo, hi = np.searchsorted(reps, [offset, offset + len(r.keys)])
        out.append(r.keys[reps[lo:hi] - offset])
        offset += len(r.keys)
        r.keys = None
    return np.concatenate(out)


def _split_collisions(exact_group: np.ndarray, checks: np.ndarray, clash: np.ndarray) -> np.ndarray:
    """Regroup rows whose check hash differs from their group's first row: same 64-bit hash, other text."""
    exact_group = exact_group.copy()
    base = int(exact_group.max()) + 1
    new: dict[tuple[int, int], int] = {}
    for row in clash.tolist():
        key = (int(exact_group[row]), int(checks[row]))
        exact_group[row] = new.setdefault(key, base + len(new))
    return exact_group


def _texts_at(results: list[BatchResult], rows: np.ndarray) -> list[str]:
    """Final texts of the kept rows at sorted global positions `rows`, reading only the parts concerned."""
    out: list[str] = []
    offset = 0
    for r in results:
        size = len(r.hashes)
        lo, hi = np.searchsorted(rows, [offset, offset + size])
        if hi > lo:
            column = read_ipc(r.kept_path, ["text"]).column("text")
            out.extend(column.take(pa.array(rows[lo:hi] - offset)).to_pylist())
        offset += size
    return out


def _second_pass(
    paths: CleanPaths, results: list[BatchResult], decisions: Decisions, ids: pa.ChunkedArray, names: list[str]
) -> dict[str, Any]:
    """Stream the parts in order: write surviving rows and all rejects, both sorted by id; count everything."""
    dropped: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    pii_counts: Counter[str] = Counter()
    rows_in = rows_out = pii_rows = 0
    offset = 0
    with together(), ExitStack() as stack:
        rows_tmp = stack.enter_context(atomic_path(paths.rows))
        rejects_tmp = stack.enter_context(atomic_path(paths.rejects))
        rows_writer = rejects_writer = None
        for r in progress(results, desc="write", unit="batch"):
            rows_in += r.rows_in
            dropped.update(r.dropped)
            changed.update(r.changed)
            pii_counts.update(r.pii)
            pii_rows += r.pii_rows
            kept = read_ipc(r.kept_path)
            sl = slice(offset, offset + kept.num_rows)
            status = decisions.status[sl]
            keep = status == KEEP
            label = [names[c] if c >= 0 else None for c in decisions.label[sl]]
            kept = kept.set_column(
                kept.schema.get_field_index("label"), pa.field("label", pa.string()), pa.array(label, pa.string())
            )
            out = kept.filter(pa.array(keep))
            out = out.append_column(
                pa.field("dup_cluster", pa.string(), nullable=False), ids.take(pa.array(decisions.primary[sl][keep]))
            )
            out = out.append_column(
                pa.field("dup_count", pa.int64(), nullable=False),
                pa.array(decisions.cluster_size[sl][keep], pa.int64()),
            )
            rows_writer = rows_writer or parquet_writer(rows_tmp, out.schema)
            rows_writer.write_table(out)
            rows_out += out.num_rows

            removed = np.flatnonzero(~keep)
            dup_rejects = _dedup_rejects(kept, removed, status, decisions, ids, offset)
            for reason in dup_rejects.column("reason").to_pylist():
                dropped[reason] += 1
            rejects = pa.concat_tables([read_ipc(r.rejects_path), dup_rejects]).sort_by("id")
            rejects_writer = rejects_writer or parquet_writer(rejects_tmp, rejects.schema)
            rejects_writer.write_table(rejects)
            offset += kept.num_rows
        assert rows_writer is not None and rejects_writer is not None  # run() refuses an empty input
        rows_writer.close()
        rejects_writer.close()
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "dropped": {reason: dropped.get(reason, 0) for reason in REASONS},
        "changed": {step: changed.get(step, 0) for step in normalize.STEP_NAMES},
        "pii": {kind: pii_counts.get(kind, 0) for kind in pii.KINDS},
        "pii_rows": pii_rows,
    }


def _dedup_rejects(
    kept: pa.Table, removed: np.ndarray, status: np.ndarray, decisions: Decisions, ids: pa.ChunkedArray, offset: int
) -> pa.Table:
    """Reject rows for the duplicates and label conflicts of one part; `detail` names the surviving row."""
    records = []
    if len(removed):
        sub = kept.take(pa.array(removed)).to_pydict()
        glob = removed + offset
        survivor_ids = ids.take(pa.array(decisions.survivor[glob])).to_pylist()
        primary_ids = ids.take(pa.array(decisions.primary[glob])).to_pylist()
        for k, g in enumerate(glob.tolist()):
            code = int(status[removed[k]])
            key, target = ("cluster", primary_ids[k]) if code == LABEL_CONFLICT else ("survivor", survivor_ids[k])
            detail = {"cluster_size": int(decisions.cluster_size[g]), key: target}
            records.append(
                reject(
                    "clean",
                    STATUS_REASON[code],
                    source=sub["source"][k],
                    location=sub["location"][k] if "location" in sub else None,
                    row_id=sub["id"][k],
                    detail=json.dumps(detail, sort_keys=True),
                    raw=sub["text_raw"][k],
                )
            )
    return rejects_table(records)


def _log_summary(metrics: dict[str, Any]) -> None:
    dropped = {k: v for k, v in metrics["dropped"].items() if v}
    log.info("rows in %d, out %d, dropped %s", metrics["rows_in"], metrics["rows_out"], dropped or "none")
    log.info("changed per step %s; PII masked %s", metrics["changed"], metrics["pii"])
    log.info("duplicates %s; label conflicts %d", metrics["duplicates"], metrics["label_conflicts"])


def main() -> None:
    params = load_params()
    p = params.paths.clean
    if params.task == "sft":  # conversations: stages/lib/chat/clean.py
        from stages.lib.chat import clean as chat

        metrics = chat.run(params.clean, params.paths.ingest.rows, p.rows, p.rejects, p.conflicts)
    else:
        metrics = run(params.clean, p, input_rows=params.paths.ingest.rows, engine=params.engine)
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
