"""audit: which labels look wrong, and how many are wrong overall.

Reads split's train and validation rows (never test). Each labelled row gets
out-of-fold class probabilities from TF-IDF (or frozen base-model embeddings)
+ logistic regression, with folds grouped by `dup_cluster`. Confident learning
turns them into an estimated joint of given and true labels (the label-error
rate overall and per class) and a set of label issues; rows least like their
own class are flagged `outlier`, rows of one near-duplicate cluster with
different labels `duplicate_conflict`. Writes one issue per (row, kind) to
issues.parquet, worst first within a kind; nothing is dropped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from schemas import load_params
from schemas.audit import AuditParams
from schemas.paths import AuditPaths
from stages.lib.audit import confident
from stages.lib.audit.model import embed, folds, out_of_fold, outlier_scores
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import read_rows, write_json, write_parquet
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.tfidf import classifier, vectorizer

log = get_logger("audit")

KINDS = ("label_issue", "outlier", "duplicate_conflict")
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


def load_labelled(split_dir: str | Path, splits: list[str]) -> list[dict[str, Any]]:
    """Labelled rows of the audited splits, sorted by id (the order every array below follows)."""
    rows = []
    for name in splits:
        path = Path(split_dir) / f"{name}.parquet"
        if not path.is_file():
            raise StageError(f"audit: {path} is missing; run the split stage first (dvc repro split)")
        table = read_rows(path)
        cols = [c for c in ("id", "text", "label", "dup_cluster") if c in table.column_names]
        rows += [{**r, "split": name} for r in table.select(cols).to_pylist() if r["label"] is not None]
    return sorted(rows, key=lambda r: r["id"])


def score(cfg: AuditParams, rows: list[dict[str, Any]], base_dir: str | Path | None = None) -> dict[str, Any]:
    """Out-of-fold probabilities and every finding, as arrays aligned with `rows` (the library entry point)."""
    classes = sorted({r["label"] for r in rows})
    if len(classes) < 2:
        raise StageError(f"audit needs at least two classes among the audited rows; found {classes}")
    counts = Counter(r["label"] for r in rows)
    if min(counts.values()) < cfg.folds:
        raise StageError(
            f"audit.folds={cfg.folds} but class counts are {dict(counts)}: every class needs a row per fold; "
            "lower audit.folds"
        )
    code = {c: i for i, c in enumerate(classes)}
    labels = np.array([code[r["label"]] for r in rows], dtype=np.int64)
    texts = [r["text"] for r in rows]
    groups = [r.get("dup_cluster") or r["id"] for r in rows]
    fold = folds(labels, groups, cfg.folds, cfg.seed)
    make_clf = partial(classifier, **cfg.classifier.model_dump())
    if cfg.features == "tfidf":
        make_vec = partial(vectorizer, **cfg.tfidf.model_dump())
        probs, x = out_of_fold(texts, None, labels, fold, len(classes), make_vec, make_clf)
    else:
        if base_dir is None or not Path(base_dir, "config.json").is_file():
            raise StageError(f"audit.features: base needs the base model in {base_dir}; run dvc repro base_model")
        feats = embed(texts, base_dir, cfg.max_length)
        probs, x = out_of_fold(None, feats, labels, fold, len(classes), None, make_clf)
    result = confident.find_issues(labels, probs, cfg.method)
    return {
        "classes": classes,
        "labels": labels,
        "fold": fold,
        "probs": probs,
        "result": result,
        "quality": confident.rank(labels, probs, cfg.rank_by),
        "similarity": outlier_scores(x, labels, len(classes)),
    }


def issues_of(cfg: AuditParams, rows: list[dict[str, Any]], s: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per (row, issue kind), sorted by kind, then score (worst first), then id."""
    classes, labels, result = s["classes"], s["labels"], s["result"]
    out = []

    def add(n: int, kind: str, value: float, suggested: str | None) -> None:
        r = rows[n]
        prob = s["probs"][n, classes.index(suggested)] if suggested is not None else None
        out.append(
            {
                "id": r["id"],
                "text": r["text"],
                "label": r["label"],
                "suggested_label": suggested,
                "suggested_prob": None if prob is None else round(float(prob), 6),
                "issue": kind,
                "score": round(float(value), 6),
                "fold": int(s["fold"][n]),
                "split": r["split"],
                "dup_cluster": r.get("dup_cluster"),
            }
        )

    for n in np.flatnonzero(result.issues):
        add(n, "label_issue", s["quality"][n], classes[result.suggested[n]])
    if cfg.outlier_quantile:
        cut = np.quantile(s["similarity"], cfg.outlier_quantile)
        for n in np.flatnonzero(s["similarity"] <= cut):
            add(n, "outlier", s["similarity"][n], None)
    if cfg.duplicate_conflicts:
        by_cluster: dict[str, list[int]] = defaultdict(list)
        for n, r in enumerate(rows):
            if r.get("dup_cluster"):
                by_cluster[r["dup_cluster"]].append(n)
        for members in by_cluster.values():
            tally = Counter(int(labels[n]) for n in members)
            if len(tally) < 2:
                continue
            top = max(sorted(tally), key=lambda c: tally[c])
            for n in members:
                add(n, "duplicate_conflict", tally[int(labels[n])] / len(members), classes[top])
    out.sort(key=lambda r: (KINDS.index(r["issue"]), r["score"], r["id"]))
    return out


def run(cfg: AuditParams, paths: AuditPaths, split_dir: str | Path, base_dir: str | Path | None = None) -> dict:
    """Score, flag, write issues, details and plot; return the headline metrics.

    Raises StageError before writing when a split file is missing, fewer than
    two classes are labelled, or a class has fewer rows than folds.
    """
    rows = load_labelled(split_dir, cfg.splits)
    s = score(cfg, rows, base_dir)
    issues = issues_of(cfg, rows, s)
    classes, result = s["classes"], s["result"]
    write_parquet(pa.Table.from_pylist(issues, schema=ISSUE_SCHEMA), paths.issues)
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
    write_json([{"bar": f"{c} {k}", "rows": per.get((c, k), 0)} for c in classes for k in KINDS], paths.plot)
    kinds = Counter(r["issue"] for r in issues)
    log.info("audited %d rows: %s; estimated label-error rate %.4f", len(rows), dict(kinds), result.error_rate)
    return {
        "rows": len(rows),
        "estimated_error_rate": round(result.error_rate, 6),
        "noise_rate": {c: round(float(v), 6) for c, v in zip(classes, result.noise_rate)},
        "max_noise_rate": round(float(result.noise_rate.max()), 6) if len(classes) else 0.0,
        "issues": {k: kinds.get(k, 0) for k in KINDS},
        "flagged_rows": len({r["id"] for r in issues}),
    }


# What `dvc metrics show` lists; the counts by kind are in metrics/details/audit.json. The rate of each class is
# headline up to PER_CLASS_HEADLINE classes; with more (77 would be 77 columns of `dvc metrics show`) the worst
# class's rate is, and the per-class rates stay in the details file.
HEADLINE = ("estimated_error_rate", "flagged_rows")
PER_CLASS_HEADLINE = 10


def headline(metrics: dict[str, Any]) -> tuple[str, ...]:
    """HEADLINE plus `noise_rate.<class>`, or `max_noise_rate` past PER_CLASS_HEADLINE classes."""
    return HEADLINE + (("noise_rate",) if len(metrics["noise_rate"]) <= PER_CLASS_HEADLINE else ("max_noise_rate",))


def _r(values: Any) -> Any:
    return np.round(np.asarray(values, dtype=float), 6).tolist()


def main() -> None:
    params = load_params()
    metrics = run(params.audit, params.paths.audit, params.paths.split.dir, params.paths.base_model.out)
    p = params.paths.audit
    write_metrics(metrics, headline(metrics), p.metrics, p.counts)


if __name__ == "__main__":
    cli(main)
