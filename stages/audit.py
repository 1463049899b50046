"""audit: which labels look wrong, and how many are wrong overall (conversations: stages/lib/audit/sft.py).

Reads split's train and validation rows (never test). Each labelled row gets
out-of-fold class probabilities from TF-IDF (or frozen base-model embeddings)
+ logistic regression, with folds grouped by `dup_cluster`. Confident learning
(cleanlab) turns them into an estimated joint of given and true labels (the
label-error rate overall, with a bootstrap interval, and per class) and a set
of label issues; rows least like their own class are flagged `outlier`, rows
of one near-duplicate cluster with different labels `duplicate_conflict`.
Writes one issue per (row, kind) to issues.parquet, worst first within a kind,
and the TF-IDF model fitted on every audited row (with the out-of-fold
probabilities) to models/audit, which review and monitor read. Nothing is dropped.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from schemas import load_params
from schemas.audit import AuditParams
from schemas.paths import AuditPaths
from stages.lib.audit.estimate import error_rate_interval
from stages.lib.audit.findings import FLAGGED, KINDS, issues_of, load_labelled, score
from stages.lib.audit.saved import save_model
from stages.lib.core.errors import cli
from stages.lib.core.io import atomic_path, write_json, write_parquet
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import PER_CLASS_HEADLINE, per_class_headline, write_metrics  # noqa: F401 (tests read it)

log = get_logger("audit")

ISSUE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("label", pa.string()),
        pa.field("suggested_label", pa.string()),
        pa.field("suggested_prob", pa.float64()),
        pa.field("issue", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("fold", pa.int64()),
        pa.field("split", pa.string()),
        pa.field("dup_cluster", pa.string()),
    ]
)


def settings(cfg: AuditParams) -> dict[str, Any]:
    """The keyword arguments of `findings.score` that come from params (the stage, tests and benchmarks share it)."""
    return {
        "folds_k": cfg.folds,
        "seed": cfg.seed,
        "features": cfg.features,
        "tfidf": cfg.tfidf.model_dump(),
        "classifier": cfg.classifier.model_dump(),
        "method": cfg.method,
        "error_estimate": cfg.error_estimate,
        "rank_by": cfg.rank_by,
        "max_length": cfg.max_length,
    }


def findings_settings(cfg: AuditParams) -> dict[str, Any]:
    """The keyword arguments of `findings.issues_of` that come from params."""
    return {
        "outlier_quantile": cfg.outlier_quantile,
        "duplicate_conflicts": cfg.duplicate_conflicts,
        "low_quality_share": cfg.low_quality_share,
    }


def run(cfg: AuditParams, paths: AuditPaths, split_dir: str | Path, base_dir: str | Path | None = None) -> dict:
    """Score, flag, write issues, model, details and plot; return the headline metrics.

    Raises StageError before writing when a split file is missing, fewer than
    two classes are labelled, or a class has fewer rows than folds.
    """
    rows = load_labelled(split_dir, cfg.splits)
    s = score(rows, **settings(cfg), base_dir=base_dir, fit_model=True)
    issues = issues_of(rows, s, **findings_settings(cfg))
    classes, result = s["classes"], s["result"]
    low, high = error_rate_interval(
        s["labels"], s["probs"], cfg.interval_resamples, cfg.interval_level, cfg.seed, cfg.error_estimate
    )
    write_parquet(pa.Table.from_pylist(issues, schema=ISSUE_SCHEMA), paths.issues)
    model_settings = {
        "features": cfg.tfidf.model_dump(mode="json"),
        "classifier": cfg.classifier.model_dump(mode="json"),
    }
    with atomic_path(paths.model) as tmp:
        save_model(tmp, s["model"], model_settings, rows, s["probs"], s["fold"])
    write_json(
        {
            "classes": classes,
            "thresholds": _r(result.thresholds.tolist()),
            "confident_joint": result.confident_joint.tolist(),
            "joint": _r(result.joint.tolist()),
            "label_counts": np.bincount(s["labels"], minlength=len(classes)).tolist(),
            "oof_accuracy": round(float((s["probs"].argmax(axis=1) == s["labels"]).mean()), 6),
        },
        paths.details,
    )
    per = Counter((r["label"], r["issue"]) for r in issues)
    write_json([{"bar": f"{c} {k}", "rows": per.get((c, k), 0)} for c in classes for k in FLAGGED], paths.plot)
    kinds = Counter(r["issue"] for r in issues)
    log.info(
        "audited %d rows: %s; estimated label-error rate %.4f (%.0f%% interval %.4f to %.4f)",
        *(len(rows), dict(kinds), result.error_rate, 100 * cfg.interval_level, low, high),
    )
    return {
        "rows": len(rows),
        "estimated_error_rate": round(result.error_rate, 6),
        "estimated_error_rate_interval": {"low": round(low, 6), "high": round(high, 6)},
        "noise_rate": {c: round(float(v), 6) for c, v in zip(classes, result.noise_rate)},
        "max_noise_rate": round(float(result.noise_rate.max()), 6) if len(classes) else 0.0,
        "issues": {k: kinds.get(k, 0) for k in KINDS},
        "flagged_rows": len({r["id"] for r in issues if r["issue"] in FLAGGED}),
    }


# What `dvc metrics show` lists; the counts by kind and the error rate's interval are in metrics/details/audit.json
# (the demo's `dvc metrics show` stays within 40 values). The rate of each class is headline on two classes; with
# more the worst class's rate is (per_class_headline), the per-class rates stay in the details file.
HEADLINE = ("estimated_error_rate", "flagged_rows")


def headline(metrics: dict[str, Any]) -> tuple[str, ...]:
    """HEADLINE plus `noise_rate.<class>` on two classes, or `max_noise_rate` with more."""
    return (*HEADLINE, per_class_headline(len(metrics["noise_rate"]), "noise_rate", "max_noise_rate"))


def _r(values: Any) -> Any:
    return np.round(np.asarray(values, dtype=float), 6).tolist()


def main() -> None:
    params = load_params()
    if params.task == "sft":  # conversations, not labels
        from stages.lib.audit import sft

        write_metrics(sft.run_stage(params), sft.HEADLINE, params.paths.audit.metrics, params.paths.audit.details)
        return
    metrics = run(params.audit, params.paths.audit, params.paths.split.dir, params.paths.base_model.out)
    p = params.paths.audit
    write_metrics(metrics, headline(metrics), p.metrics, p.counts)


if __name__ == "__main__":
    cli(main)
