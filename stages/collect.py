"""collect: fetch web pages politely and freeze their main text as a snapshot that ingest reads.

Writes `<paths.collect.pages>/<name>/pages.parquet` per source (url, requested_url,
title, text, content_type, charset, extraction; sorted by url, no fetch times, so
the same pages give the same bytes) and one manifest of every URL tried (final URL,
status, redirects, fetch time, content hash, reason when not kept).
`pages_requested == pages_fetched + skipped_robots + sum(failed)` always.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas import load_params
from schemas.collect import CollectParams
from schemas.paths import CollectPaths
from stages.lib.collect.crawl import Crawler
from stages.lib.collect.snapshot import (
    MANIFEST_SCHEMA,
    PAGE_SCHEMA,
    check_failures,
    collect_pages,
    manifest_row,
    source_counts,
    source_urls,
    sum_counts,
)
from stages.lib.core.errors import cli
from stages.lib.core.io import atomic_path, together, write_parquet, write_table
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics

log = get_logger("collect")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
HEADLINE = ("pages_requested", "pages_fetched")


def run(cfg: CollectParams, paths: CollectPaths, root: Path = Path(".")) -> dict[str, Any]:
    """Fetch every source's pages, write the snapshot and manifest atomically, return the metrics.

    Raises StageError, before writing anything, when a URL file is missing, a sitemap
    cannot be read, or more than `max_failed_fraction` of a source's pages failed.
    With no sources it writes an empty snapshot.
    """
    started = time.monotonic()
    crawler = Crawler(
        user_agent=cfg.user_agent,
        delay_s=cfg.delay_s,
        per_host_concurrency=cfg.per_host_concurrency,
        max_concurrency=cfg.max_concurrency,
        timeout_s=cfg.timeout_s,
        max_retries=cfg.max_retries,
        backoff_s=cfg.backoff_s,
        max_wait_s=cfg.max_wait_s,
        max_bytes=cfg.max_bytes,
        max_redirects=cfg.max_redirects,
        content_types=cfg.content_types,
        allow_private_networks=cfg.allow_private_networks,
    )
    try:
        url_lists = {source.name: source_urls(source, crawler, root) for source in cfg.sources}
        results = collect_pages(url_lists, crawler, cfg.extract)
    finally:
        crawler.close()
    snapshots: dict[str, pa.Table] = {}
    manifest: list[dict[str, Any]] = []
    per_source: dict[str, Any] = {}
    for name, (pages, fetches) in results.items():
        snapshots[name] = pa.Table.from_pylist(pages, schema=PAGE_SCHEMA)
        manifest.extend(manifest_row(name, f) for f in fetches)
        counts = per_source[name] = source_counts(fetches)
        failed = {k: v for k, v in counts["failed"].items() if v}
        log.info("%s: %d of %d pages kept, %d skipped by robots.txt, failed %s", name, len(pages), len(fetches),
                 counts["skipped_robots"], failed or "none")  # fmt: skip
        check_failures(name, fetches, cfg.max_failed_fraction)

    with together():  # both outputs renamed only once both are written
        with atomic_path(paths.pages) as folder:
            folder.mkdir()
            for name, table in snapshots.items():
                (folder / name).mkdir()
                write_table(table, folder / name / "pages.parquet")
        write_parquet(pa.Table.from_pylist(manifest, schema=MANIFEST_SCHEMA), paths.manifest)
    log.info("wrote %d sources to %s and %d URLs to %s", len(snapshots), paths.pages, len(manifest), paths.manifest)

    metrics = sum_counts(per_source.values())
    metrics |= {
        "bytes": crawler.stats["bytes"],
        "http_requests": crawler.stats["http_requests"],
        "retries": crawler.stats["retries"],
        "seconds": round(time.monotonic() - started, 2),
        "sources": per_source,
    }
    return metrics


def main() -> None:
    params = load_params()
    metrics = run(params.collect, params.paths.collect)
    p = params.paths.collect
    write_metrics(metrics, HEADLINE, p.metrics, p.details, params.paths.timings, "collect")


if __name__ == "__main__":
    cli(main)
