"""decontaminate (SFT pipeline): drop training conversations that overlap validation, test or benchmark text.

A train conversation is contaminated when the contents of its checked turns (`decontaminate.roles`) share a
word n-gram (`ngram`, 8-13) with an evaluation text, or are a MinHash near match of one (`near`). Each is a
`contaminated` reject naming the origin and the matched n-gram; validation and test are copied byte for byte.
`rows_in == rows_out + sum(dropped)` counts the train rows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.decontam import DecontamParams
from schemas.engine import EngineParams
from schemas.sft import DecontamPaths
from stages.lib.chat.conversation import role_contents
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import read_rows
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import reject, rejects_table
from stages.lib.core.splitdir import check_split_dir, write_split_dir
from stages.lib.decontam.benchmarks import read_benchmark
from stages.lib.decontam.matches import find_contaminated
from stages.lib.decontam.on_ray import find_contaminated_on_ray
from stages.lib.engine.session import ray_session

log = get_logger("decontaminate")
# rows_in is rows_out + dropped.contaminated (the details have it): the SFT headline stays within 40 values
HEADLINE = ("rows_out", "dropped.contaminated")


def run(
    cfg: DecontamParams, paths: DecontamPaths, split_dir: str | Path, engine: EngineParams | None = None
) -> dict[str, Any]:
    """Check train against the evaluation splits and benchmarks; write the folder; return the metrics.

    `engine` (default local) says where the training texts are checked; the outputs do not depend on it.

    Raises StageError before writing anything when the split folder or a benchmark file is missing or broken.
    """
    source = check_split_dir(split_dir)
    train = read_rows(source / "train.parquet")
    evaluation: dict[str, list[str]] = {}
    for split in cfg.against_splits:
        messages = read_rows(source / f"{split}.parquet").column("messages").to_pylist()
        evaluation[split] = [role_contents(m, cfg.roles) for m in messages]
    for name, bench in cfg.benchmarks.items():
        evaluation[f"benchmark:{name}"] = read_benchmark(bench.path, bench.format, bench.fields, name)
    if "messages" not in train.column_names:
        raise StageError(f"{source / 'train.parquet'} has no `messages`; is it the SFT split's output?")
    rows = train.to_pylist()
    texts = [role_contents(r["messages"], cfg.roles) for r in rows]
    settings = {"ngram": cfg.ngram, "min_words": cfg.min_words, "near": cfg.near.model_dump()}
    if engine is not None and engine.kind == "ray":
        with ray_session(**engine.ray.model_dump()) as cpus:
            matches, stats = find_contaminated_on_ray(texts, evaluation, cpus, **settings)
    else:
        matches, stats = find_contaminated(texts, evaluation, **settings)
    keep = [m is None for m in matches]
    rejects = [
        reject(
            "decontaminate",
            "contaminated",
            source=r["source"],
            location=r.get("location"),
            row_id=r["id"],
            detail=f"{m.origin} ({m.kind}): {m.detail}",
            raw=r["text"],
        )
        for r, m in zip(rows, matches, strict=True)
        if m is not None
    ]
    write_split_dir(
        paths.dir,
        source,
        {"train": train.filter(pa.array(keep)), "rejects": rejects_table(rejects, sort_key=lambda r: r["id"])},
    )
    by_origin = Counter(m.origin for m in matches if m is not None)
    by_kind = Counter(m.kind for m in matches if m is not None)
    log.info("train rows %d: %d contaminated %s", len(rows), len(rejects), dict(by_origin) or "")
    return {
        "rows_in": len(rows),
        "rows_out": sum(keep),
        "dropped": {"contaminated": len(rejects)},
        "ngram": cfg.ngram,
        "by_origin": {origin: by_origin.get(origin, 0) for origin in evaluation},
        "by_kind": {kind: by_kind.get(kind, 0) for kind in ("ngram", "near")},
        "evaluation_rows": {origin: len(texts) for origin, texts in evaluation.items()},
        "indexed": stats["indexed"],
        "too_short": stats["too_short"],
    }


def main() -> None:
    params = load_params()
    if params.task != "sft":
        raise StageError("decontaminate belongs to the SFT pipeline: run it from sft/ (cd sft && dvc repro)")
    p = params.paths.decontaminate
    metrics = run(params.decontaminate, p, params.paths.split.dir, engine=params.engine)
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
