"""review: two queues of rows for annotators, exported in Label Studio, Argilla, doccano and CSV form.

Queue `issues`: the audit's findings, worst first (label issues, then
duplicate conflicts, then outliers), one task per row, suggesting the label the
model is confident about. Queue `active`: unlabelled rows (split's
unlabeled.parquet) the model is least sure about, at most one per
near-duplicate cluster, optionally spread over k-means clusters. Each queue
goes to `<dir>/<queue>/` in every format of `review.formats`; the answers come
back through the label stage (docs/refine.md). With `task: sft`: `run_sft`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.audit import AuditParams
from schemas.paths import ReviewPaths
from schemas.review import ReviewParams
from stages.lib.audit.saved import load_model
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, read_rows
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.review import exports
from stages.lib.review.queues import active_queue, issue_queue, params_hash, uncertainty

log = get_logger("review")

QUEUES = ("issues", "active")


def run(
    cfg: ReviewParams,
    audit: AuditParams,
    paths: ReviewPaths,
    issues_path: str | Path,
    split_dir: str | Path,
    model_dir: str | Path,
) -> dict[str, Any]:
    """Build both queues and write their exports; return the metrics (rows per queue, model_version).

    Raises StageError when the audit's issues or model, or split's files are missing.
    """
    for path in (Path(issues_path), Path(split_dir) / "unlabeled.parquet"):
        if not path.is_file():
            raise StageError(f"review: {path} is missing; run dvc repro audit")
    version = params_hash(audit, cfg)
    issues = read_rows(issues_path).to_pylist()
    picked = issue_queue(issues, cfg.issues.kinds, cfg.issues.budget)
    tasks = {
        "issues": [
            {
                "id": r["id"],
                "text": r["text"],
                "label": r["label"],
                "suggested_label": r["suggested_label"],
                "score": r["suggested_prob"],
                "reason": r["issue"],
            }
            for r in picked
        ],
        "active": active_tasks(cfg, split_dir, model_dir),
    }
    with atomic_path(paths.dir) as tmp:  # the folder is one DVC output: replaced as a whole
        for name in QUEUES:
            exports.write_queue(tmp / name, tasks[name], cfg.formats, cfg.question, version)
            log.info("queue %s: %d tasks in %s", name, len(tasks[name]), Path(paths.dir) / name)
    return {
        "model_version": version,
        "queues": {name: len(tasks[name]) for name in QUEUES},
        "issues_by_kind": {k: sum(t["reason"] == k for t in tasks["issues"]) for k in cfg.issues.kinds},
    }


def active_tasks(cfg: ReviewParams, split_dir: str | Path, model_dir: str | Path) -> list[dict[str, Any]]:
    """The most uncertain unlabelled rows under the audit's model (fitted on the audited labelled rows)."""
    pool = read_rows(Path(split_dir) / "unlabeled.parquet").to_pylist()
    if not pool or cfg.active.budget == 0:
        return []
    pool.sort(key=lambda r: r["id"])
    model, _ = load_model(model_dir)
    clf, xp = model.named_steps["classifier"], model.named_steps["features"].transform([r["text"] for r in pool])
    probs = clf.predict_proba(xp)
    scores = uncertainty(probs, cfg.active.uncertainty)
    clusters = None
    if cfg.active.kmeans_clusters and len(pool) >= cfg.active.kmeans_clusters:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=cfg.active.kmeans_clusters, n_init=3, random_state=cfg.seed)
        clusters = km.fit_predict(xp)
    groups = [r.get("dup_cluster") or r["id"] for r in pool]
    picked = active_queue([r["id"] for r in pool], groups, scores, cfg.active.budget, clusters)
    best = probs.argmax(axis=1)
    return [
        {
            "id": pool[n]["id"],
            "text": pool[n]["text"],
            "label": None,
            "suggested_label": str(clf.classes_[best[n]]),
            "score": round(float(probs[n, best[n]]), 6),
            "reason": f"{cfg.active.uncertainty}={scores[n]:.4f}",
        }
        for n in picked
    ]


def run_sft(params: Any) -> dict[str, Any]:
    """review for `task: sft`: conversations with an answer to rate and edit (docs/sft_refine.md).

    Raises StageError when the audit's issues file or, with pool prompts to draft, the approach's model is missing.
    """
    from stages.lib.review import conversations as conv

    cfg, p, issues_path = params.review, params.paths.review, params.paths.audit.issues
    if not Path(issues_path).is_file():
        raise StageError(f"review: {issues_path} is missing (paths.audit.issues); run dvc repro audit")
    issues = conv.read_issues(issues_path)
    split_dir = params.paths.split.dir  # the conversations the issues' ids name, and unlabeled.parquet
    found = conv.conversations(split_dir, {i["id"] for i in issues})
    issue_tasks, by_kind = conv.issue_tasks(issues, found, cfg.issues.kinds, cfg.issues.per_kind)
    pool = conv.read_pool(Path(split_dir) / "unlabeled.parquet", p.pool)[: cfg.active.max_pool]
    active: list[dict[str, Any]] = []
    if pool and cfg.active.budget:
        log.info("drafting answers to %d pool prompts with approach %s", len(pool), cfg.approach)
        active = conv.active_tasks(pool, conv.draft_answers(cfg.approach, pool, params), cfg.active.budget)
    version = params_hash(cfg, params.approaches[cfg.approach], params.eval.max_new_tokens)
    tasks = {"issues": issue_tasks, "active": active}
    with atomic_path(p.dir) as tmp:
        for name in QUEUES:
            exports.write_answer_queue(tmp / name, tasks[name], cfg.formats, cfg.rating_scale, version)
            log.info("queue %s: %d tasks in %s", name, len(tasks[name]), Path(p.dir) / name)
    return {
        "model_version": version,
        "queues": {name: len(tasks[name]) for name in QUEUES},
        "issues_by_kind": by_kind,
        "pool": len(pool),
    }


def main() -> None:
    params = load_params()
    p = params.paths
    if params.task == "sft":
        metrics = run_sft(params)
        write_metrics(metrics, ("queues.issues", "queues.active"), p.review.metrics, p.review.details)
        return
    metrics = run(params.review, params.audit, p.review, p.audit.issues, p.split.dir, p.audit.model)
    write_metrics(metrics, ("queues.issues", "queues.active"), p.review.metrics, p.review.details)


if __name__ == "__main__":
    cli(main)
