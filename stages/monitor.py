"""monitor: does a new batch of text look like what the model was trained on?

Reads every file of `monitor.sources` (ingest's formats and readers),
normalised with clean.normalize, and compares it with split's train rows:
a domain classifier (cross-validated ROC AUC with a permutation p-value: the
drift flag), text descriptors (length, out-of-vocabulary share, language mix)
and the predictions of the audit's TF-IDF model (class distribution, KS test on
prediction entropy, validation vs batch). Writes scored rows, rejects, and the
most drifted / least confident rows as review tasks. With no batch present it
writes a `batch: false` result, so `dvc repro` runs on the demo.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from schemas import load_params
from schemas.audit import AuditParams
from schemas.clean import NormalizeParams
from schemas.ingest import Source
from schemas.monitor import MonitorParams
from schemas.paths import MonitorPaths
from schemas.review import ReviewParams
from stages.lib.core import ids
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, read_rows, write_json, write_table
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.ingest.readers import read_source, resolve_files
from stages.lib.model.tfidf import classifier, vectorizer
from stages.lib.monitor import drift
from stages.lib.review import exports
from stages.lib.review.queues import params_hash
from stages.lib.text import normalize

log = get_logger("monitor")

SCORED = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("source", pa.string()),
        pa.field("location", pa.string()),
        pa.field("drift_score", pa.float64()),
        pa.field("predicted", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("entropy", pa.float64()),
    ]
)


def read_batch(
    sources: dict[str, Source], norm: NormalizeParams, root: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Incoming rows (id, text, source, location), rejects, and the number of records read."""
    steps = normalize.build_steps(**norm.model_dump())
    rows, rejects, read = [], [], 0
    for source in sources.values():
        try:
            resolve_files(source, root)
        except StageError:
            continue  # nothing arrived for this source
        seen: Counter[str] = Counter()
        for rec in read_source(source, root):
            read += 1
            text = None if rec.fields is None else rec.fields.get(source.text_field, rec.fields.get("text"))
            reason = rec.reason or (None if isinstance(text, str) else "missing_text")
            if reason is None:
                text = normalize.normalize(text, steps)[0]
                reason = None if text.strip() else "empty_text"
            if reason:
                rejects.append(
                    reject("monitor", reason, source=source.name, location=rec.location, detail=rec.detail, raw=rec.raw)
                )
                continue
            seen[text] += 1
            row_id = ids.row_id(source.name, ids.content_key(text, None, seen[text]))
            rows.append({"id": row_id, "text": text, "source": source.name, "location": rec.location})
    rows.sort(key=lambda r: r["id"])
    return rows, rejects, read


def run(
    cfg: MonitorParams,
    paths: MonitorPaths,
    split_dir: str | Path,
    norm: NormalizeParams,
    audit: AuditParams,
    review: ReviewParams,
    root: Path = Path("."),
) -> dict[str, Any]:
    """Read the batch, measure drift, write scored rows, rejects, review tasks and the plot; return the metrics.

    Raises StageError when split's train or validation file is missing.
    """
    rows, rejects, read = read_batch(cfg.sources, norm, root)
    dropped = Counter(r["reason"] for r in rejects)
    base = {"batch": bool(rows), "rows_in": read, "rows_out": len(rows), "dropped": dict(sorted(dropped.items()))}
    if not rows:
        log.info("no incoming batch in %s: nothing to compare", paths.incoming)
        _write(paths, [], rejects, [], review, audit)
        write_json([], paths.plot)
        return {**base, "drift": False}
    train, valid = (_labelled(Path(split_dir) / f"{n}.parquet") for n in ("train", "validation"))
    texts = [r["text"] for r in rows]
    dom = drift.domain_test(
        [r["text"] for r in train],
        texts,
        vectorizer(**cfg.domain_features.model_dump()),
        cfg.folds,
        cfg.permutations,
        cfg.max_rows,
        cfg.seed,
    )

    vocab = {t for r in train for t in drift.tokens(r["text"])}
    rng = np.random.default_rng(cfg.seed)
    ref_lang = [train[i]["text"] for i in rng.choice(len(train), min(cfg.max_rows, len(train)), replace=False)]
    len_ref, len_new = [len(r["text"]) for r in train], [len(t) for t in texts]
    lang_tv = drift.total_variation(drift.language_mix(ref_lang), drift.language_mix(texts[: cfg.max_rows]))

    vec = vectorizer(**audit.tfidf.model_dump())
    clf = classifier(**audit.classifier.model_dump() | {"seed": cfg.seed}).fit(
        vec.fit_transform([r["text"] for r in train]), [r["label"] for r in train]
    )
    p_val, p_new = clf.predict_proba(vec.transform([r["text"] for r in valid])), clf.predict_proba(vec.transform(texts))
    h_val, h_new = drift.entropy(p_val), drift.entropy(p_new)
    ks_h, ks_p = drift.ks(h_val, h_new)
    ks_len, ks_len_p = drift.ks(len_ref, len_new)
    classes = [str(c) for c in clf.classes_]
    best = p_new.argmax(axis=1)
    scored = [
        {
            **r,
            "drift_score": round(float(dom["scores"][n]), 6),
            "predicted": classes[best[n]],
            "confidence": round(float(p_new[n, best[n]]), 6),
            "entropy": round(float(h_new[n]), 6),
        }
        for n, r in enumerate(rows)
    ]
    tasks = worst(scored, cfg.review_budget)
    _write(paths, scored, rejects, tasks, review, audit)
    shifts = {
        "length_chars": round(float(np.mean(len_new) - np.mean(len_ref)), 3),
        "length_ks": round(ks_len, 6),
        "oov_share": round(drift.oov_share(texts, vocab) - drift.oov_share([r["text"] for r in valid], vocab), 6),
        "language_tv": round(lang_tv, 6),
        "entropy_ks": round(ks_h, 6),
    }
    write_json([{"descriptor": k, "shift": v} for k, v in shifts.items()], paths.plot)
    flag = dom["p_value"] < cfg.alpha
    log.info("batch of %d rows: AUC %.3f, p %.4f -> drift %s", len(rows), dom["auc"], dom["p_value"], flag)
    return {
        **base,
        "drift": bool(flag),
        "domain_auc": round(dom["auc"], 6),
        "domain_p_value": round(dom["p_value"], 6),
        "null_auc_p95": round(dom["null_auc_p95"], 6),
        "shifts": shifts,
        "length_ks_p_value": round(ks_len_p, 6),
        "entropy_ks_p_value": round(ks_p, 6),
        "predicted": {c: round(float((best == i).mean()), 6) for i, c in enumerate(classes)},
        "mean_confidence": {
            "validation": round(float(p_val.max(axis=1).mean()), 6),
            "batch": round(float(p_new.max(axis=1).mean()), 6),
        },
    }


def worst(scored: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Half the budget to the most drifted rows, the rest to the least confident; each row once."""
    by_drift = sorted(scored, key=lambda r: (-r["drift_score"], r["id"]))
    by_doubt = sorted(scored, key=lambda r: (-r["entropy"], r["id"]))
    picked, seen = [], set()
    for pool, share in ((by_drift, budget // 2), (by_doubt, budget)):
        for r in pool:
            if len(picked) >= share:
                break
            if r["id"] not in seen:
                seen.add(r["id"])
                reason = f"drift={r['drift_score']:.3f}" if pool is by_drift else f"entropy={r['entropy']:.3f}"
                picked.append(
                    {**r, "label": None, "suggested_label": r["predicted"], "score": r["confidence"], "reason": reason}
                )
    return picked


def _labelled(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise StageError(f"monitor: {path} is missing; run dvc repro split")
    return sorted(
        (r for r in read_rows(path).select(["id", "text", "label"]).to_pylist() if r["label"]), key=lambda r: r["id"]
    )


def _write(
    paths: MonitorPaths,
    scored: list[dict[str, Any]],
    rejects: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    review: ReviewParams,
    audit: AuditParams,
) -> None:
    with atomic_path(paths.dir) as tmp:
        tmp.mkdir(parents=True)
        write_table(pa.Table.from_pylist(scored, schema=SCORED), tmp / "scored.parquet")
        write_table(rejects_table(rejects), tmp / "rejects.parquet")
        exports.write_queue(tmp / "review", tasks, review.formats, review.question, params_hash(audit, review))


def main() -> None:
    params = load_params()
    p = params.paths
    metrics = run(params.monitor, p.monitor, p.split.dir, params.clean.normalize, params.audit, params.review)
    headline = ("batch", "drift", "rows_out") + (("domain_auc", "domain_p_value") if metrics["batch"] else ())
    write_metrics(metrics, headline, p.monitor.metrics, p.monitor.details)


if __name__ == "__main__":
    cli(main)
