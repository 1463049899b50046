"""Params of the collect stage: which web pages to fetch, how politely, and how to extract their text."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel, check_inside_repo, check_regexes


def check_http_url(value: str) -> str:
    """Raise ValueError unless `value` is an absolute http(s) URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"'{value}' is not an http or https URL (only those are fetched)")
    if not parts.hostname:
        raise ValueError(f"'{value}' has no host")
    return value


class CollectSource(StrictModel):
    """One set of pages: a list of URLs, a file of URLs, or a sitemap."""

    name: str = Field(
        description="Short unique name; the snapshot goes to <paths.collect.pages>/<name>/pages.parquet.",
        pattern=r"^[A-Za-z0-9_.-]+$",
    )
    urls: list[str] = Field(default_factory=list, description="The page URLs (http or https).")
    url_file: str | None = Field(
        None,
        description="A text file of page URLs, one a line (blank lines and lines starting with # are skipped), "
        "relative to the repository root.",
    )
    sitemap: str | None = Field(
        None,
        description="URL of a sitemap (XML, optionally gzipped) or a sitemap index; every <loc> is a page.",
    )
    include: list[str] = Field(
        default_factory=list,
        description="Regular expressions (re.search on the URL); when given, a page must match at least one.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Regular expressions (re.search on the URL); a matching page is skipped."
    )
    max_pages: int | None = Field(
        None,
        ge=1,
        le=100_000_000,
        description="Keep only the first N pages after include/exclude, in the order listed (sitemap order for a "
        "sitemap); null keeps all. At most 100 million.",
    )

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            check_http_url(url)
        return value

    @field_validator("sitemap")
    @classmethod
    def _http_sitemap(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @field_validator("url_file")
    @classmethod
    def _inside_repo(cls, value: str | None) -> str | None:
        return None if value is None else check_inside_repo(value, "keep the URL file inside it")
        p = PurePosixPath(value)
        if p.is_absolute():
            raise ValueError("must be relative to the repository root, not absolute")
        depth = 0
        for part in p.parts:
            depth += -1 if part == ".." else (0 if part == "." else 1)
            if depth < 0:
                raise ValueError("escapes the repository; keep the URL file inside it")
        return value

    @field_validator("include", "exclude")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return check_regexes(value)

    @model_validator(mode="after")
    def _one_list(self) -> CollectSource:
        given = [k for k, v in (("urls", self.urls), ("url_file", self.url_file), ("sitemap", self.sitemap)) if v]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of `urls`, `url_file` or `sitemap` (got {', '.join(given) or 'none'}); "
                "split them into several sources"
            )
        return self


class ExtractParams(StrictModel):
    """How the main text is taken out of an HTML page (trafilatura)."""

    favor: Literal["balanced", "precision", "recall"] = Field(
        "balanced",
        description="trafilatura's trade-off: 'precision' drops more borderline boilerplate, 'recall' keeps more "
        "borderline text.",
    )
    include_tables: bool = Field(True, description="Keep the text of tables inside the main content.")
    include_comments: bool = Field(False, description="Keep reader comments below an article.")
    fallback: bool = Field(
        True,
        description="When no main text is found, keep all visible text of the page (menus included) instead of "
        "rejecting the page as no_text.",
    )


class CollectParams(StrictModel):
    """Fetch web pages politely and freeze their main text as a snapshot that ingest reads."""

    sources: list[CollectSource] = Field(
        default_factory=list, description="The sets of pages to collect; empty means nothing is fetched."
    )
    user_agent: str = Field(
        "RefineryBot/0.1",
        min_length=1,
        description="Sent with every request and matched against robots.txt; the part before '/' is the "
        "robots.txt agent token. Add a contact, e.g. 'RefineryBot/0.1 (+mailto:you@example.org)'.",
    )
    delay_s: float = Field(
        1.0,
        ge=0.0,
        le=3600.0,
        description="Least time between the starts of two requests to the same host (a robots.txt Crawl-delay "
        "or Request-rate that asks for more wins). At most 3600.",
    )
    per_host_concurrency: int = Field(
        1, ge=1, le=16, description="Most requests in flight to one host at once (at most 16: stay polite)."
    )
    max_concurrency: int = Field(
        4, ge=1, le=64, description="Most requests in flight in all (threads; at most 64, one thread each)."
    )
    timeout_s: float = Field(
        30.0,
        gt=0.0,
        le=600.0,
        description="Total deadline of one attempt: connect, headers and the whole body (a server trickling bytes "
        "cannot extend it). At most 600 s.",
    )
    max_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries after a timeout, a connection error, a 429 or a 500/502/503/504 (at most 20).",
    )
    backoff_s: float = Field(
        1.0,
        ge=0.0,
        le=600.0,
        description="Wait before the first retry; doubles on each further retry, each wait capped by max_wait_s "
        "(exponential backoff; at most 600).",
    )
    max_wait_s: float = Field(
        60.0,
        ge=0.0,
        le=3600.0,
        description="Longest single wait between retries. A Retry-After asking for more fails the page as "
        "rate_limited rather than waiting less than the server asked. At most 3600 (an hour).",
    )
    max_bytes: int = Field(
        5_000_000,
        ge=1,
        le=1_000_000_000,
        description="Largest response body kept; a larger one is cut off and the page rejected (at most 1 GB: bodies "
        "are held in memory).",
    )
    allow_private_networks: bool = Field(
        False,
        description="Fetch from loopback, private, link-local, multicast and reserved addresses too. Off, every "
        "URL, redirect hop and sitemap link whose host resolves to one of those is refused (private_network), so "
        "a page cannot steer the crawler into your own network or a cloud metadata service.",
    )
    max_redirects: int = Field(
        5, ge=0, le=30, description="Most redirects followed per page; each hop is recorded (at most 30)."
    )
    content_types: list[str] = Field(
        default_factory=lambda: ["text/html", "application/xhtml+xml", "text/plain"],
        min_length=1,
        description="Media types accepted; other pages are rejected as content_type. text/html and "
        "application/xhtml+xml are parsed for their main text; any other accepted type is kept as plain text.",
    )
    max_failed_fraction: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Fail, keeping the previous snapshot, when more than this share of a source's pages failed "
        "(robots.txt skips and duplicates aside): a site that is down or blocks the crawler should stop the "
        "stage, not replace the data with an empty snapshot.",
    )
    extract: ExtractParams = Field(default_factory=ExtractParams, description="Main-text extraction settings.")

    @field_validator("content_types")
    @classmethod
    def _media_types(cls, value: list[str]) -> list[str]:
        for media in value:
            if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", media):
                raise ValueError(f"'{media}' is not a lower-case media type such as text/html (no parameters)")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> CollectParams:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self
