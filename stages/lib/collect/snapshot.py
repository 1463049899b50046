"""The collect stage's steps (stages/collect.py runs them): URL lists, fetch and extract, dedupe, manifest, counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas.collect import CollectSource, ExtractParams
from stages.lib.collect.crawl import FAIL_REASONS, Crawler, Fetch, read_url_file, select_urls
from stages.lib.collect.pagetext import page_text
from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger, progress
from stages.lib.core.safety import inside_repo

log = get_logger("collect")

PAGE_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),  # final URL after redirects: ingest's row id
        pa.field("requested_url", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("content_type", pa.string()),
        pa.field("charset", pa.string()),
        pa.field("extraction", pa.string()),  # main, fallback or plain
    ]
)
MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("requested_url", pa.string(), nullable=False),
        pa.field("final_url", pa.string()),
        pa.field("status", pa.int32()),
        pa.field("reason", pa.string()),  # null when the page is in the snapshot
        pa.field("detail", pa.string()),
        pa.field("redirects", pa.list_(pa.string())),
        pa.field("attempts", pa.int32()),
        pa.field("bytes", pa.int64()),
        pa.field("content_type", pa.string()),
        pa.field("content_hash", pa.string()),  # sha256 of the body as received
        pa.field("fetched_at", pa.string()),  # UTC, ISO 8601; the only thing that differs between equal runs
    ]
)


def source_urls(source: CollectSource, crawler: Crawler, root: Path) -> list[str]:
    """The page URLs of one source, after include/exclude and max_pages."""
    if source.sitemap:
        listed = crawler.sitemap_urls(source.sitemap)
        where = source.sitemap
    elif source.url_file:
        path = root / source.url_file
        if not path.is_file():
            raise StageError(f"collect source '{source.name}': url_file {source.url_file} does not exist")
        inside_repo(path, f"collect source '{source.name}' (url_file: {source.url_file})", root.resolve())
        listed = read_url_file(path)
        where = source.url_file
    else:
        listed = source.urls
        where = "urls"
    urls = select_urls(listed, source.include, source.exclude, source.max_pages)
    log.info("%s: %d URLs listed in %s, %d selected", source.name, len(listed), where, len(urls))
    return urls


def collect_pages(
    url_lists: dict[str, list[str]], crawler: Crawler, extract: ExtractParams
) -> dict[str, tuple[list[dict[str, Any]], list[Fetch]]]:
    """Fetch every source's pages in one pool (sources on different hosts proceed side by side) and
    extract their text; per source, (snapshot rows sorted by url, every Fetch sorted by requested URL)."""
    jobs = [(name, url) for name, urls in url_lists.items() for url in urls]
    fetches: dict[str, list[Fetch]] = {name: [] for name in url_lists}
    texts: dict[tuple[str, str], dict[str, Any]] = {}  # by (source, requested URL)
    pages_done = progress(crawler.fetch_many([url for _, url in jobs]), desc="collect", total=len(jobs), unit="pages")
    for index, fetch in pages_done:
        name = jobs[index][0]
        fetches[name].append(fetch)
        if fetch.reason is None:
            assert fetch.body is not None
            text = page_text(fetch.body, fetch.media_type or "", fetch.charset, fetch.final_url,
                             favor=extract.favor, include_tables=extract.include_tables,
                             include_comments=extract.include_comments, fallback=extract.fallback)  # fmt: skip
            if text.text:
                texts[name, fetch.requested_url] = {
                    "url": fetch.final_url, "requested_url": fetch.requested_url, "title": text.title,
                    "text": text.text, "content_type": fetch.media_type, "charset": text.charset,
                    "extraction": text.method,
                }  # fmt: skip
            else:
                fetch.reason, fetch.detail = "no_text", "no text found in the page"
        fetch.body = None  # the text is kept; holding every body would grow memory with the crawl
    return {name: _dedupe(name, done, texts) for name, done in fetches.items()}


def _dedupe(
    name: str, fetches: list[Fetch], texts: dict[tuple[str, str], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Fetch]]:
    """Two URLs redirecting to one page: the first by requested URL keeps it, the other is a duplicate."""
    done = sorted(fetches, key=lambda f: f.requested_url)
    pages: dict[str, dict[str, Any]] = {}
    for fetch in done:
        row = texts.get((name, fetch.requested_url))
        if row is None:
            continue
        if row["url"] in pages:
            fetch.reason = "duplicate"
            fetch.detail = f"same final URL as {pages[row['url']]['requested_url']}"
        else:
            pages[row["url"]] = row
    return [pages[url] for url in sorted(pages)], done


def check_failures(name: str, fetches: list[Fetch], max_failed_fraction: float) -> None:
    """Stop, before the snapshot is replaced, when too many of a source's pages failed.

    A site that is down, blocks the crawler or renders its text with JavaScript would
    otherwise replace a good snapshot with an empty one. Pages skipped by robots.txt and
    duplicates are not failures.
    """
    tried = [f for f in fetches if f.reason not in ("robots", "duplicate")]
    failed = [f for f in tried if f.reason is not None]
    if tried and len(failed) / len(tried) > max_failed_fraction:
        reasons = dict(Counter(f.reason for f in failed).most_common())
        examples = "; ".join(f"{f.requested_url}: {f.reason} ({f.detail})" for f in failed[:3])
        raise StageError(
            f"collect source '{name}': {len(failed)} of {len(tried)} pages failed "
            f"({len(failed) / len(tried):.0%} > collect.max_failed_fraction={max_failed_fraction}); "
            f"reasons {reasons}; e.g. {examples}. The previous snapshot was left untouched."
        )


def manifest_row(source: str, fetch: Fetch) -> dict[str, Any]:
    return {
        "source": source,
        "requested_url": fetch.requested_url,
        "final_url": fetch.final_url,
        "status": fetch.status,
        "reason": fetch.reason,
        "detail": fetch.detail,
        "redirects": fetch.redirects,
        "attempts": fetch.attempts,
        "bytes": fetch.nbytes,
        "content_type": fetch.media_type,
        "content_hash": fetch.content_hash,
        "fetched_at": fetch.fetched_at,
    }


def source_counts(fetches: list[Fetch]) -> dict[str, Any]:
    reasons = Counter(f.reason for f in fetches)
    unknown = set(reasons) - {None, "robots", *FAIL_REASONS}
    assert not unknown, f"reasons missing from FAIL_REASONS: {unknown}"
    return {
        "pages_requested": len(fetches),
        "pages_fetched": reasons[None],
        "skipped_robots": reasons["robots"],
        "failed": {r: reasons[r] for r in FAIL_REASONS},
        "bytes_pages": sum(f.nbytes for f in fetches),
    }


def sum_counts(parts: Any) -> dict[str, Any]:
    parts = list(parts)
    total: dict[str, Any] = {
        k: sum(p[k] for p in parts) for k in ("pages_requested", "pages_fetched", "skipped_robots", "bytes_pages")
    }
    total["failed"] = {r: sum(p["failed"][r] for p in parts) for r in FAIL_REASONS}
    return total
