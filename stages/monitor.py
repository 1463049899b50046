"""monitor: does a new batch of text look like what the model was trained on?

Reads every file of `monitor.sources` (ingest's formats and readers), made
into model text by the one text path (clean.normalize and clean.pii, as the
training rows were), and compares it with split's train rows:
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

from schemas import load_params
from schemas.audit import AuditParams
from schemas.clean import CleanParams
from schemas.monitor import MonitorParams
from schemas.paths import MonitorPaths
from schemas.review import ReviewParams
from stages.lib.audit.saved import load_model, reference_probs
from stages.lib.core.errors import cli
from stages.lib.core.io import write_json
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.tfidf import vectorizer
from stages.lib.monitor import drift
from stages.lib.monitor.batch import labelled, read_batch
from stages.lib.monitor.output import worst, write_outputs

log = get_logger("monitor")


def run(
    cfg: MonitorParams,
    paths: MonitorPaths,
    split_dir: str | Path,
    clean: CleanParams,
    audit: AuditParams,
    review: ReviewParams,
    model_dir: str | Path,
    root: Path = Path("."),
) -> dict[str, Any]:
    """Read the batch, measure drift, write scored rows, rejects, review tasks and the plot; return the metrics.

    Raises StageError when split's train or validation file, or the audit's model, is missing.
    """
    rows, rejects, read = read_batch(cfg.sources, clean, root, max_reject_fraction=cfg.max_reject_fraction)
    dropped = Counter(r["reason"] for r in rejects)
    base = {"batch": bool(rows), "rows_in": read, "rows_out": len(rows), "dropped": dict(sorted(dropped.items()))}
    if not rows:
        log.info("no incoming batch in %s: nothing to compare", paths.incoming)
        write_outputs(paths, [], rejects, [], review, audit)
        write_json([], paths.plot)
        return {**base, "drift": False}
    train, valid = (labelled(Path(split_dir) / f"{n}.parquet") for n in ("train", "validation"))
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

    # The audit's model (fitted on the audited rows) scores the batch; its out-of-fold probabilities of the
    # validation rows are the held-out reference, so neither side is scored by a model that saw its rows.
    model, meta = load_model(model_dir)
    p_val, p_new = reference_probs(model_dir, "validation"), model.predict_proba(texts)
    h_val, h_new = drift.entropy(p_val), drift.entropy(p_new)
    ks_h, ks_p = drift.ks(h_val, h_new)
    ks_len, ks_len_p = drift.ks(len_ref, len_new)
    classes = list(meta["labels"])
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
    write_outputs(paths, scored, rejects, tasks, review, audit)
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


def main() -> None:
    params = load_params()
    p = params.paths
    metrics = run(params.monitor, p.monitor, p.split.dir, params.clean, params.audit, params.review, p.audit.model)
    headline = ("batch", "drift", "rows_out") + (("domain_auc", "domain_p_value") if metrics["batch"] else ())
    write_metrics(metrics, headline, p.monitor.metrics, p.monitor.details)


if __name__ == "__main__":
    cli(main)
