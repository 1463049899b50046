"""collect against a real HTTP server on 127.0.0.1 (http.server in a thread); no other network."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest
import yaml

from schemas.collect import CollectParams, CollectSource
from schemas.ingest import IngestParams, Source
from schemas.paths import CollectPaths, IngestPaths
from stages import collect, ingest
from stages.lib.collect import crawl
from stages.lib.collect.crawl import FAIL_REASONS
from stages.lib.core.errors import StageError
from stages.lib.core.ids import row_id

UA = "RefineryBot/0.1 (+mailto:test@example.org)"
Reply = tuple[int, dict[str, str], bytes]


class Site:
    """A tiny web site: `routes` maps a path to a reply or to a function of the hit count (1, 2...)."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Callable[[int], Reply]] = {}
        self.log: list[tuple[float, float, str, str]] = []  # (start, end, path, user agent)
        self.hits: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.host_in_flight: Counter[str] = Counter()
        self.max_host_in_flight = 0
        self.lock = threading.Lock()
        self.base = ""

    def reset(self) -> None:
        with self.lock:
            self.log.clear()
            self.hits.clear()
            self.max_in_flight = 0
            self.max_host_in_flight = 0

    def url(self, path: str) -> str:
        return self.base + path

    def requested(self, path: str) -> list[tuple[float, float]]:
        return [(start, end) for start, end, p, _ in self.log if p == path]

    def serve(self, path: str, host: str = "") -> Reply:
        with self.lock:
            self.hits[path] += 1
            n = self.hits[path]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.host_in_flight[host] += 1
            self.max_host_in_flight = max(self.max_host_in_flight, self.host_in_flight[host])
        try:
            route = self.routes.get(path)
            if route is None:
                return 404, {"Content-Type": "text/html"}, b"<html><body>not found</body></html>"
            return route(n) if callable(route) else route
        finally:
            with self.lock:
                self.in_flight -= 1
                self.host_in_flight[host] -= 1


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # a proxy in the environment must not see these
    web = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            start = time.monotonic()
            status, headers, body = web.serve(self.path, self.headers.get("Host", "").split(":")[0])
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers and not headers.get("X-No-Length"):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped reading
                if "X-Drip" in headers:  # half the body, a pause, the rest: a server stalling mid-page
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(float(headers["X-Drip"]))
                self.wfile.write(body[len(body) // 2 :] if "X-Drip" in headers else body)
            with web.lock:
                web.log.append((start, time.monotonic(), self.path, self.headers.get("User-Agent", "")))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    web.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield web
    server.shutdown()
    server.server_close()


def html(body: str, head: str = "") -> Reply:
    return (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        f"<html><head>{head}</head><body>{body}</body></html>".encode(),
    )


def page(title: str, *paragraphs: str) -> str:
    """An article wrapped in the navigation, sidebar and footer a real site has."""
    paras = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body>"
        '<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop now</a></li>'
        '<li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>'
        '<div class="sidebar"><p>Subscribe to our newsletter for weekly deals!</p></div>'
        f"<article><h1>{title}</h1>{paras}</article>"
        "<footer><p>Copyright 2024 Example Corp. All rights reserved. Privacy policy. Terms of use.</p></footer>"
        "</body></html>"
    )


def article(title: str, *paragraphs: str) -> Reply:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, page(title, *paragraphs).encode()


TEA = (
    "Researchers at a small university followed two hundred volunteers for twelve weeks to see whether "
    "drinking green tea every morning changed how well they slept.",
    "The volunteers who drank tea reported falling asleep slightly faster, although the authors caution "
    "that the effect was small and the study was not blinded.",
    "Further trials with a placebo drink are planned for next year, according to the lead author.",
)
BRIDGE = (
    "The old stone bridge over the river was closed to traffic on Monday after engineers found cracks "
    "in two of its arches during a routine inspection.",
    "Buses will take a detour through the northern suburbs for at least three weeks while repairs are made, "
    "the city council said in a statement.",
)
FRENCH = (
    "Les chercheurs d'une petite université ont suivi deux cents volontaires pendant douze semaines. "
    "Ceux qui buvaient du thé vert déclaraient s'endormir légèrement plus vite, même si les auteurs "
    "préviennent que l'effet était faible et que l'étude n'était pas réalisée à l'aveugle. D'autres essais "
    "sont prévus l'année prochaine, selon l'auteur principal de l'article. Ça paraît prometteur."
)
RUSSIAN = (
    "Исследователи небольшого университета наблюдали за двумя сотнями добровольцев в течение двенадцати "
    "недель, чтобы понять, влияет ли зелёный чай по утрам на качество сна. Те, кто пил чай, засыпали "
    "немного быстрее, хотя авторы предупреждают, что эффект был небольшим."
)
ROBOTS = (
    "User-agent: *\nDisallow: /private/\nAllow: /private/open\nDisallow: /*?session=\nDisallow: /*.pdf$\n\n"
    "User-agent: OtherBot\nDisallow: /\n"
)


def sitemap(urls: list[str]) -> Reply:
    locs = "".join(f"<url><loc>{u.replace('&', '&amp;')}</loc></url>" for u in urls)
    body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    return 200, {"Content-Type": "application/xml"}, body.encode()


def build_site(site: Site) -> None:
    """The site of the issue: every case a polite collector must handle."""
    site.routes.update(
        {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, ROBOTS.encode()),
            "/tea": article("Green tea study", *TEA),
            "/notes.txt": (200, {"Content-Type": "text/plain"}, b"Plain notes.\r\nSecond line, kept as is.\r\n"),
            "/latin1": (
                200,
                {"Content-Type": "text/html"},
                f"<html><body><p>{FRENCH}</p></body></html>".encode("latin-1"),
            ),
            "/private/secret": article("Secret", *BRIDGE),
            "/old": (301, {"Location": "/older"}, b""),
            "/older": (302, {"Location": "/bridge"}, b""),
            "/bridge": article("Bridge closed", *BRIDGE),
            "/flaky": lambda n: (503, {}, b"busy") if n == 1 else article("Flaky but fine", *BRIDGE[:1]),
            "/busy": lambda n: (429, {"Retry-After": "1"}, b"") if n == 1 else article("Was busy", *TEA[:2]),
            "/big": (200, {"Content-Type": "text/html"}, b"<html><body>" + b"x" * 5000 + b"</body></html>"),
            "/big-stream": (200, {"Content-Type": "text/html", "X-No-Length": "1"}, b"<p>" + b"y" * 50_000),
            "/data.json": (200, {"Content-Type": "application/json"}, b'{"a": 1}'),
        }
    )
    pages = ["/tea", "/notes.txt", "/latin1", "/private/secret", "/old", "/missing", "/flaky", "/busy", "/big",
             "/big-stream", "/data.json", "/tea#comments"]  # fmt: skip
    site.routes["/sitemap.xml"] = sitemap([site.url(p) for p in pages])


def params(sources: list[dict[str, Any]], **overrides: Any) -> CollectParams:
    # tiny delays so the file runs in seconds; failures recorded, not fatal, unless a test asks
    settings: dict[str, Any] = {"user_agent": UA, "delay_s": 0.0, "backoff_s": 0.01, "max_retries": 2,
                                "timeout_s": 5.0, "max_wait_s": 5.0, "max_bytes": 4000,
                                "max_failed_fraction": 1.0,
                                "allow_private_networks": True}  # fmt: skip
    return CollectParams(sources=[CollectSource(**s) for s in sources], **(settings | overrides))


def out_paths(tmp_path: Path) -> CollectPaths:
    return CollectPaths(
        pages=str(tmp_path / "data/collected"),
        manifest=str(tmp_path / "data/collect_manifest.parquet"),
        metrics=str(tmp_path / "metrics/collect.json"),
    )


def read(paths: CollectPaths, name: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(pages by URL path, manifest rows by requested URL path) of one source."""
    pages = pq.read_table(f"{paths.pages}/{name}/pages.parquet").to_pylist()
    manifest = [r for r in pq.read_table(paths.manifest).to_pylist() if r["source"] == name]
    return {urlsplit(r["url"]).path: r for r in pages}, {urlsplit(r["requested_url"]).path: r for r in manifest}


def test_collects_the_site_politely(site: Site, tmp_path: Path) -> None:
    build_site(site)
    paths = out_paths(tmp_path)
    metrics = collect.run(params([{"name": "site", "sitemap": site.url("/sitemap.xml")}]), paths)
    pages, manifest = read(paths, "site")

    assert sorted(pages) == ["/bridge", "/busy", "/flaky", "/latin1", "/notes.txt", "/tea"]
    # robots.txt: the disallowed page is never requested, and counted apart
    assert site.hits["/private/secret"] == 0
    assert manifest["/private/secret"]["reason"] == "robots"
    assert site.hits["/robots.txt"] == 1
    assert {ua for *_, ua in site.log} == {UA}
    # main text: the article is kept, the menu, sidebar and footer are not
    tea = pages["/tea"]
    assert tea["title"] == "Green tea study"
    assert tea["extraction"] == "main"
    for sentence in TEA:
        assert sentence in tea["text"]
    for boilerplate in ("Shop now", "About us", "newsletter", "Copyright"):
        assert boilerplate not in tea["text"]
    # the fragment is dropped: /tea#comments is /tea, fetched once
    assert site.hits["/tea"] == 1
    # redirect chain: followed, recorded, the page keyed by its final URL
    assert pages["/bridge"]["requested_url"] == site.url("/old")
    assert manifest["/old"]["redirects"] == [site.url("/older"), site.url("/bridge")]
    assert manifest["/old"]["final_url"] == site.url("/bridge")
    assert BRIDGE[0] in pages["/bridge"]["text"]
    # a latin-1 page without any charset: detected, not mangled
    assert pages["/latin1"]["text"] == FRENCH
    assert pages["/latin1"]["charset"] in ("cp1252", "iso8859-1", "latin-1", "iso8859-15")
    # plain text is kept as is (line ends normalised)
    assert pages["/notes.txt"]["text"] == "Plain notes.\nSecond line, kept as is."
    assert pages["/notes.txt"]["extraction"] == "plain"
    # retries: a 503 then a success; a 429 whose Retry-After is honoured
    assert manifest["/flaky"]["attempts"] == 2 and manifest["/flaky"]["reason"] is None
    busy = site.requested("/busy")
    assert len(busy) == 2
    assert busy[1][0] - busy[0][1] >= 0.95  # Retry-After: 1, although backoff_s is 0.01
    # rejected, each with its reason
    assert (manifest["/missing"]["reason"], manifest["/missing"]["status"]) == ("http_error", 404)
    assert manifest["/big"]["reason"] == "too_large"
    assert manifest["/big-stream"]["reason"] == "too_large"
    assert 4000 < manifest["/big-stream"]["bytes"] < 50_000  # cut off, not read to the end
    assert manifest["/data.json"]["reason"] == "content_type"
    assert manifest["/tea"]["content_hash"] is not None and manifest["/tea"]["fetched_at"] is not None

    assert metrics["pages_requested"] == 11
    assert metrics["pages_fetched"] == 6
    assert metrics["skipped_robots"] == 1
    assert metrics["failed"] == {r: 0 for r in FAIL_REASONS} | {"http_error": 1, "too_large": 2, "content_type": 1}
    assert metrics["pages_requested"] == metrics["pages_fetched"] + metrics["skipped_robots"] + sum(
        metrics["failed"].values()
    )
    assert metrics["retries"] == 2
    assert metrics["bytes"] >= sum(r["bytes"] for r in manifest.values()) > 0
    assert metrics["sources"]["site"]["pages_fetched"] == 6


def test_rerun_gives_identical_snapshot_and_ingest_reads_it(site: Site, tmp_path: Path) -> None:
    build_site(site)
    paths = out_paths(tmp_path)
    cfg = params([{"name": "site", "sitemap": site.url("/sitemap.xml")}])
    collect.run(cfg, paths)
    first = Path(paths.pages, "site", "pages.parquet").read_bytes()
    first_manifest = pq.read_table(paths.manifest).drop(["fetched_at"])
    site.reset()  # same content; the flaky pages fail once again
    collect.run(cfg, paths)
    assert Path(paths.pages, "site", "pages.parquet").read_bytes() == first
    assert pq.read_table(paths.manifest).drop(["fetched_at"]).equals(first_manifest)
    assert sorted(p.name for p in Path(paths.pages).iterdir()) == ["site"]

    source = Source(name="web", path="data/collected/site", format="collected", id_field="url",
                    keep_fields=["title"])  # fmt: skip
    out = IngestPaths(rows=str(tmp_path / "rows.parquet"), rejects=str(tmp_path / "rejects.parquet"),
                      metrics=str(tmp_path / "ingest.json"))  # fmt: skip
    metrics = ingest.run(IngestParams(sources={"web": source}), out, root=tmp_path)
    rows = {r["location"]: r for r in pq.read_table(out.rows).to_pylist()}
    assert metrics["rows_out"] == 6 and metrics["rows_in"] == 6
    tea = rows[site.url("/tea")]
    assert tea["id"] == row_id("web", f"id:{site.url('/tea')}")  # the id comes from the page URL
    assert tea["title"] == "Green tea study" and TEA[0] in tea["text"]
    assert tea["label"] is None and tea["source"] == "web"

    everything = source.model_copy(update={"path": "data/collected"})  # every collected source at once
    assert ingest.run(IngestParams(sources={"web": everything}), out, root=tmp_path)["rows_out"] == 6
    manifest = source.model_copy(update={"path": "data/collect_manifest.parquet"})
    with pytest.raises(StageError, match=r"is not a collect snapshot \(expected \*/pages\.parquet\)"):
        ingest.run(IngestParams(sources={"web": manifest}), out, root=tmp_path)


def test_changed_page_changes_only_its_row(site: Site, tmp_path: Path) -> None:
    site.routes |= {"/a": article("A", *TEA), "/b": article("B", *BRIDGE)}
    paths = out_paths(tmp_path)
    cfg = params([{"name": "s", "urls": [site.url("/a"), site.url("/b")]}])
    collect.run(cfg, paths)
    before, _ = read(paths, "s")
    site.routes["/b"] = article("B", *BRIDGE[:1])
    collect.run(cfg, paths)
    after, _ = read(paths, "s")
    assert before["/a"] == after["/a"]
    assert before["/b"]["text"] != after["/b"]["text"]


def test_robots_rules_for_the_agent_and_unreachable_robots(site: Site, tmp_path: Path) -> None:
    site.routes |= {"/robots.txt": (200, {}, ROBOTS.encode()), "/tea": article("Tea", *TEA)}
    site.routes |= {"/private/open": article("Open", *BRIDGE), "/a.pdf?x=1": article("Not a PDF", *TEA)}
    paths = out_paths(tmp_path)
    # RFC 9309 matching: the longest rule wins (Allow beats a shorter Disallow), `*` and `$` work
    urls = [site.url(p) for p in ("/tea", "/tea?session=abc", "/private/open", "/private/x", "/a.pdf", "/a.pdf?x=1")]
    collect.run(params([{"name": "s", "urls": urls}]), paths)
    pages = {r["url"] for r in pq.read_table(f"{paths.pages}/s/pages.parquet").to_pylist()}
    assert pages == {site.url("/tea"), site.url("/private/open"), site.url("/a.pdf?x=1")}
    assert site.hits["/tea?session=abc"] == site.hits["/private/x"] == site.hits["/a.pdf"] == 0

    site.reset()
    collect.run(params([{"name": "s", "urls": [site.url("/tea")]}], user_agent="OtherBot/2.0"), paths)
    _, manifest = read(paths, "s")
    assert manifest["/tea"]["reason"] == "robots" and site.hits["/tea"] == 0

    # a robots.txt that stays unreachable (5xx): RFC 9309 says fetch nothing from the site
    site.reset()
    site.routes["/robots.txt"] = (503, {}, b"")
    metrics = collect.run(params([{"name": "s", "urls": [site.url("/tea")]}], max_retries=1), paths)
    _, manifest = read(paths, "s")
    assert manifest["/tea"]["reason"] == "server_error"
    assert "robots.txt unreachable" in manifest["/tea"]["detail"]
    assert site.hits["/tea"] == 0 and site.hits["/robots.txt"] == 2
    assert metrics["skipped_robots"] == 0

    # no robots.txt at all (404): everything is allowed
    site.reset()
    del site.routes["/robots.txt"]
    collect.run(params([{"name": "s", "urls": [site.url("/tea")]}]), paths)
    pages, _ = read(paths, "s")
    assert list(pages) == ["/tea"]


def test_redirect_limits_schemes_robots_and_duplicates(site: Site, tmp_path: Path) -> None:
    site.routes |= {
        "/robots.txt": (200, {}, ROBOTS.encode()),
        "/loop1": (302, {"Location": "/loop2"}, b""),
        "/loop2": (302, {"Location": "/loop1"}, b""),
        "/to-ftp": (301, {"Location": "ftp://127.0.0.1/file"}, b""),
        "/to-broken": (302, {"Location": "http://[::1/x"}, b""),
        "/to-private": (301, {"Location": "/private/x"}, b""),
        "/a": (301, {"Location": "/final"}, b""),
        "/b": (308, {"Location": site.url("/final")}, b""),
        "/final": article("Final", *TEA),
    }
    paths = out_paths(tmp_path)
    urls = [site.url(p) for p in ("/loop1", "/to-ftp", "/to-broken", "/to-private", "/a", "/b")]
    metrics = collect.run(params([{"name": "s", "urls": urls}], max_redirects=3), paths)
    pages, manifest = read(paths, "s")
    assert manifest["/loop1"]["reason"] == "too_many_redirects"
    assert len(manifest["/loop1"]["redirects"]) == 4 and site.hits["/loop1"] + site.hits["/loop2"] == 4
    assert manifest["/to-ftp"]["reason"] == "bad_url" and manifest["/to-ftp"]["final_url"].startswith("ftp://")
    assert manifest["/to-broken"]["reason"] == "bad_url"
    assert manifest["/to-private"]["reason"] == "robots" and site.hits["/private/x"] == 0
    # two URLs ending on one page: the first (by requested URL) keeps it, the other is a duplicate
    assert list(pages) == ["/final"] and pages["/final"]["requested_url"] == site.url("/a")
    assert manifest["/b"]["reason"] == "duplicate"
    assert metrics["failed"]["duplicate"] == 1 and metrics["pages_fetched"] == 1


def test_give_up_after_retries_and_on_long_retry_after(site: Site, tmp_path: Path) -> None:
    site.routes |= {
        "/down": (500, {}, b""),
        "/limited": (429, {"Retry-After": "3600"}, b""),
        "/slow": lambda n: (time.sleep(1.0), article("Slow", *TEA))[1],
        "/broken": (501, {}, b""),
        "/stall": (200, {"Content-Type": "text/html", "X-Drip": "1.0"}, page("Stall", *TEA).encode()),
    }
    paths = out_paths(tmp_path)
    urls = [site.url(p) for p in ("/down", "/limited", "/slow", "/broken", "/stall")]
    metrics = collect.run(params([{"name": "s", "urls": urls}], max_retries=1, timeout_s=0.3), paths)
    _, manifest = read(paths, "s")
    assert (manifest["/down"]["reason"], manifest["/down"]["attempts"]) == ("server_error", 2)
    # a Retry-After beyond max_wait_s: no waiting an hour, no retry either
    assert (manifest["/limited"]["reason"], site.hits["/limited"]) == ("rate_limited", 1)
    assert "3600" in manifest["/limited"]["detail"]
    assert (manifest["/slow"]["reason"], manifest["/slow"]["attempts"]) == ("timeout", 2)
    assert (manifest["/broken"]["reason"], site.hits["/broken"]) == ("http_error", 1)  # 501 is not retried
    # the status line came (200), then the body stalled: a timeout, not a server error
    assert (manifest["/stall"]["reason"], manifest["/stall"]["status"]) == ("timeout", 200)
    assert metrics["retries"] == 3


@pytest.mark.parametrize(("per_host", "delay"), [(1, 0.1), (2, 0.0)])
def test_per_host_concurrency_and_delay(site: Site, tmp_path: Path, per_host: int, delay: float) -> None:
    for i in range(6):
        site.routes[f"/p{i}"] = lambda n, i=i: (time.sleep(0.15), article(f"Page {i}", *TEA))[1]
    urls = [site.url(f"/p{i}") for i in range(6)]
    cfg = params([{"name": "s", "urls": urls}], max_concurrency=4, per_host_concurrency=per_host, delay_s=delay)
    collect.run(cfg, out_paths(tmp_path))
    assert site.max_in_flight == per_host  # never more; and with 4 threads, reached
    starts = sorted(start for start, _, path, _ in site.log if path.startswith("/p"))
    assert min(b - a for a, b in itertools.pairwise(starts)) >= delay * 0.9


def test_sources_on_different_hosts_proceed_side_by_side(site: Site, tmp_path: Path) -> None:
    for i in range(3):
        site.routes[f"/p{i}"] = lambda n, i=i: (time.sleep(0.2), article(f"Page {i}", *TEA))[1]
    other = site.base.replace("127.0.0.1", "localhost")  # the same server under a second host name
    sources = [
        {"name": "one", "urls": [site.url(f"/p{i}") for i in range(3)]},
        {"name": "two", "urls": [f"{other}/p{i}" for i in range(3)]},
    ]
    paths = out_paths(tmp_path)
    metrics = collect.run(params(sources, max_concurrency=2, per_host_concurrency=1), paths)
    assert metrics["pages_fetched"] == 6
    assert site.max_host_in_flight == 1 and site.max_in_flight == 2
    assert {u for *_, u in site.log} == {UA}


def test_robots_crawl_delay_is_honoured(site: Site, tmp_path: Path) -> None:
    site.routes |= {"/robots.txt": (200, {}, b"User-agent: *\nCrawl-delay: 1\n")}
    site.routes |= {"/a": article("A", *TEA), "/b": article("B", *BRIDGE)}
    collect.run(params([{"name": "s", "urls": [site.url("/a"), site.url("/b")]}]), out_paths(tmp_path))
    (a,), (b,) = site.requested("/a"), site.requested("/b")
    assert abs(b[0] - a[0]) >= 0.95


def test_url_file_include_exclude_max_pages(site: Site, tmp_path: Path) -> None:
    for name in ("guide/one", "guide/two", "guide/three", "guide/changelog", "blog/post"):
        site.routes[f"/{name}"] = article(name, *TEA)
    listed = [site.url(f"/{n}") for n in ("guide/one", "blog/post", "guide/changelog", "guide/two", "guide/three")]
    (tmp_path / "urls.txt").write_text("# docs\n\n" + "\n".join([*listed, listed[0]]) + "\n")
    paths = out_paths(tmp_path)
    src = {"name": "s", "url_file": "urls.txt", "include": ["/guide/"], "exclude": ["changelog"], "max_pages": 2}
    metrics = collect.run(params([src]), paths, root=tmp_path)
    pages, _ = read(paths, "s")
    assert sorted(pages) == ["/guide/one", "/guide/two"]  # first two in file order after the filters
    assert metrics["pages_requested"] == 2
    assert site.hits["/guide/three"] == site.hits["/blog/post"] == 0


def test_bad_urls_in_a_list_are_reported_not_fatal(site: Site, tmp_path: Path) -> None:
    site.routes["/a"] = article("A", *TEA)
    bad = ["http://[::1/broken", "http://exa mple.com/", "mailto:someone@example.org", "//no-scheme.org/x"]
    (tmp_path / "urls.txt").write_text("\n".join([site.url("/a"), *bad]) + "\n")
    paths = out_paths(tmp_path)
    metrics = collect.run(params([{"name": "s", "url_file": "urls.txt"}]), paths, root=tmp_path)
    manifest = {r["requested_url"]: r for r in pq.read_table(paths.manifest).to_pylist()}
    assert {u: manifest[u]["reason"] for u in bad} == dict.fromkeys(bad, "bad_url")
    assert metrics["pages_fetched"] == 1 and metrics["retries"] == 0


def test_sitemap_index_with_gzipped_child(site: Site, tmp_path: Path) -> None:
    site.routes |= {"/a": article("A", *TEA), "/b": article("B", *BRIDGE)}
    child = sitemap([site.url("/b")])[2]
    site.routes["/child.xml.gz"] = (200, {"Content-Type": "application/gzip"}, gzip.compress(child, mtime=0))
    site.routes["/plain.txt"] = (200, {"Content-Type": "text/plain"}, site.url("/a").encode() + b"\n")
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/plain.txt')}</loc></sitemap><sitemap><loc>{site.url('/child.xml.gz')}</loc>"
        "</sitemap></sitemapindex>"
    )
    site.routes["/index.xml"] = (200, {"Content-Type": "application/xml"}, index.encode())
    paths = out_paths(tmp_path)
    collect.run(params([{"name": "s", "sitemap": site.url("/index.xml")}]), paths)
    pages, _ = read(paths, "s")
    assert sorted(pages) == ["/a", "/b"]


def test_unreadable_sitemap_fails_and_keeps_previous_outputs(site: Site, tmp_path: Path) -> None:
    site.routes["/a"] = article("A", *TEA)
    paths = out_paths(tmp_path)
    collect.run(params([{"name": "s", "urls": [site.url("/a")]}]), paths)
    before = Path(paths.pages, "s", "pages.parquet").read_bytes()
    with pytest.raises(StageError, match=r"sitemap .*/nope.xml: http_error \(status 404"):
        collect.run(params([{"name": "s", "sitemap": site.url("/nope.xml")}]), paths)
    assert Path(paths.pages, "s", "pages.parquet").read_bytes() == before
    with pytest.raises(StageError, match=r"url_file missing\.txt does not exist"):
        collect.run(params([{"name": "s", "url_file": "missing.txt"}]), paths, root=tmp_path)


def test_a_site_that_is_down_does_not_replace_the_snapshot(site: Site, tmp_path: Path) -> None:
    site.routes |= {f"/p{i}": article(f"Page {i}", *TEA) for i in range(4)}
    site.routes["/robots.txt"] = (200, {}, b"User-agent: *\nDisallow: /p3\n")
    paths = out_paths(tmp_path)
    cfg = params([{"name": "s", "urls": [site.url(f"/p{i}") for i in range(4)]}], max_failed_fraction=0.5)
    collect.run(cfg, paths)
    before = Path(paths.pages, "s", "pages.parquet").read_bytes()
    site.routes |= {"/p1": (404, {}, b"")}
    collect.run(cfg, paths)  # one dead link of three tried (p3 is robots-skipped): fine
    assert pq.read_table(Path(paths.pages, "s", "pages.parquet")).num_rows == 2
    site.routes |= {"/p0": (503, {}, b""), "/p1": (503, {}, b"")}
    with pytest.raises(StageError, match=r"2 of 3 pages failed \(67% > collect.max_failed_fraction=0.5\)"):
        collect.run(cfg, paths)
    assert pq.read_table(Path(paths.pages, "s", "pages.parquet")).num_rows == 2
    assert Path(paths.pages, "s", "pages.parquet").read_bytes() != before


def test_no_text_and_fallback(site: Site, tmp_path: Path) -> None:
    # only reader comments, which extract.include_comments=false leaves out: no main text at all
    site.routes["/menu"] = html('<div id="comments"><p>Great post, thanks!</p></div>', "<title>Comments</title>")
    site.routes["/empty"] = (200, {"Content-Type": "text/plain"}, b"  \n ")
    paths = out_paths(tmp_path)
    urls = [site.url("/menu"), site.url("/empty")]
    metrics = collect.run(params([{"name": "s", "urls": urls}]), paths)
    pages, manifest = read(paths, "s")
    assert pages["/menu"]["extraction"] == "fallback" and pages["/menu"]["text"] == "Great post, thanks!"
    assert pages["/menu"]["title"] == "Comments"
    assert manifest["/empty"]["reason"] == "no_text"
    cfg = params([{"name": "s", "urls": urls}])
    cfg.extract.fallback = False
    metrics = collect.run(cfg, paths)
    assert metrics["failed"]["no_text"] == 2 and metrics["pages_fetched"] == 0


def test_no_sources_writes_an_empty_snapshot(tmp_path: Path) -> None:
    paths = out_paths(tmp_path)
    metrics = collect.run(CollectParams(), paths)
    assert list(Path(paths.pages).iterdir()) == []
    assert pq.read_table(paths.manifest).num_rows == 0
    assert metrics["pages_requested"] == 0 and metrics["http_requests"] == 0
    assert set(metrics["failed"]) == set(FAIL_REASONS)


def test_charset_from_header_meta_or_detection(site: Site, tmp_path: Path) -> None:
    body = f"<html><body><p>{RUSSIAN}</p></body></html>"
    meta = body.replace("<html>", '<html><meta charset="KOI8-R">')
    site.routes |= {
        "/detected": (200, {"Content-Type": "text/html"}, body.encode("cp1251")),
        "/header": (200, {"Content-Type": "text/html; charset=koi8-r"}, body.encode("koi8_r")),
        "/meta": (200, {"Content-Type": "text/html"}, meta.encode("koi8_r")),
        "/bom": (200, {"Content-Type": "text/html"}, body.encode("utf-16")),
        "/utf8": (200, {"Content-Type": "text/html"}, body.encode("utf-8")),
    }  # fmt: skip
    paths = out_paths(tmp_path)
    collect.run(params([{"name": "s", "urls": [site.url(p) for p in site.routes]}], max_bytes=100_000), paths)
    pages, _ = read(paths, "s")
    assert {p: r["text"] for p, r in pages.items()} == dict.fromkeys(site.routes, RUSSIAN)
    assert {p: r["charset"] for p, r in pages.items()} == {
        "/detected": "cp1251", "/header": "koi8-r", "/meta": "koi8-r", "/bom": "utf-16", "/utf8": "utf-8"
    }  # fmt: skip


def dvc(project: Path, *args: str) -> str:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["dvc", *args], cwd=project, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_snapshot_flows_through_dvc_repro_and_is_not_refetched(site: Site, tmp_path: Path) -> None:
    """The user's loop: collect once, `dvc repro` never refetches, `dvc repro -f -s collect` (make collect) does,
    and ingest reruns only when the pages really changed."""
    site.routes |= {"/a": article("A", *TEA), "/b": article("B", *BRIDGE)}
    root = Path(__file__).resolve().parents[2]
    project = tmp_path / "project"
    for part in ("stages", "schemas", "data/sample", "data/raw"):
        shutil.copytree(root / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(root / "dvc.yaml", project / "dvc.yaml")
    cfg = yaml.safe_load((root / "params.yaml").read_text())
    cfg["collect"] |= {"sources": [{"name": "site", "urls": [site.url("/a"), site.url("/b")]}], "delay_s": 0.0}
    cfg["collect"]["allow_private_networks"] = True  # the test site is on 127.0.0.1
    cfg["ingest"]["sources"]["web"] = {
        "path": "data/collected/site",
        "format": "collected",
        "id_field": "url",
        "keep_fields": [],
    }
    (project / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc(project, "init", "-q")
    # Only collect -> ingest: the stages after ingest are not what this test is about (and train models).

    dvc(project, "repro", "ingest")
    rows = pq.read_table(project / "data/ingested/rows.parquet").to_pylist()
    web = {r["location"]: r["text"] for r in rows if r["source"] == "web"}
    assert sorted(web) == [site.url("/a"), site.url("/b")] and BRIDGE[1] in web[site.url("/b")]
    assert len(rows) > 5000  # the SMS sample is still there

    site.reset()
    assert "Stage 'collect' didn't change" in dvc(project, "repro", "ingest")
    assert site.hits == Counter()  # a plain `dvc repro` never touches the network

    dvc(project, "repro", "--force", "--single-item", "collect")  # what `make collect` runs
    assert site.hits["/a"] == site.hits["/b"] == 1
    assert "up to date" in dvc(project, "status", "ingest")  # same pages, same bytes: ingest need not rerun

    site.routes["/b"] = article("B", BRIDGE[0], "The bridge reopened on Friday after a quicker repair than planned.")
    dvc(project, "repro", "--force", "--single-item", "collect")
    assert "ingest" in dvc(project, "status", "ingest")
    dvc(project, "repro", "ingest")
    rows = pq.read_table(project / "data/ingested/rows.parquet").to_pylist()
    assert any("reopened on Friday" in r["text"] for r in rows if r["source"] == "web")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.2:8080/x", "loopback"),
        ("http://localhost/x", "loopback"),  # refused after DNS resolution, not by name
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.1/x", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # the cloud metadata service
        ("http://224.0.0.1/x", "multicast"),
        ("http://[::1]/x", "loopback"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://240.0.0.1/x", "reserved"),
    ],
)
def test_private_targets_are_named(url: str, why: str) -> None:
    reason = crawl.private_target(url)
    assert reason is not None and f"({why})" in reason and "collect.allow_private_networks: true" in reason
    assert crawl.private_target("http://93.184.215.14/") is None  # a public address literal: no DNS needed


def test_private_networks_refused_by_default(site: Site, tmp_path: Path) -> None:
    """Nothing on 127.0.0.1 is requested, not even robots.txt, unless the params allow it."""
    site.routes |= {"/a": article("A", *TEA)}
    paths = out_paths(tmp_path)
    cfg = params([{"name": "s", "urls": [site.url("/a")]}], allow_private_networks=False)
    collect.run(cfg, paths)
    _, manifest = read(paths, "s")
    assert manifest["/a"]["reason"] == "private_network"
    assert "127.0.0.1 (loopback)" in manifest["/a"]["detail"]
    assert site.hits["/a"] == 0 and site.hits["/robots.txt"] == 0


def test_redirects_and_sitemap_links_into_private_networks_are_refused(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hop and each sitemap link is checked on its own: the test site stands in for a public host (only
    its exact 127.0.0.1 origin is let through), `localhost` for an internal one."""
    real = crawl.private_target
    monkeypatch.setattr(crawl, "private_target", lambda url: None if url.startswith(site.base) else real(url))
    inside = site.base.replace("127.0.0.1", "localhost")
    site.routes |= {
        "/hop": (302, {"Location": f"{inside}/secret"}, b""),
        "/secret": article("Secret", *TEA),
        "/sitemap.xml": sitemap([f"{inside}/secret", site.url("/ok")]),
        "/ok": article("Ok", *TEA),
    }
    paths = out_paths(tmp_path)
    cfg = params(
        [{"name": "r", "urls": [site.url("/hop")]}, {"name": "m", "sitemap": site.url("/sitemap.xml")}],
        allow_private_networks=False,
    )
    collect.run(cfg, paths)
    pages, manifest = read(paths, "r")
    assert manifest["/hop"]["reason"] == "private_network" and manifest["/hop"]["redirects"] == [f"{inside}/secret"]
    pages, manifest = read(paths, "m")
    assert manifest["/secret"]["reason"] == "private_network" and list(pages) == ["/ok"]
    assert site.hits["/secret"] == 0


@pytest.mark.parametrize("part", ["headers", "body"])
def test_timeout_is_a_total_deadline(tmp_path: Path, part: str) -> None:
    """A server that sends one byte every 0.3 s, of its headers or of its body, cannot hold a 2 s timeout: the
    attempt fails as timeout after about 2 s (per-read timeouts would keep it reading for a minute)."""
    stop = threading.Event()
    sent = Counter()

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/robots.txt":  # answered at once: the page is what trickles
                self.send_error(404)
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
                if part == "headers":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                else:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 200\r\n\r\n")
                for _ in range(200):
                    if stop.wait(0.3):
                        return
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    sent[part] += 1

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        crawler = crawl.Crawler(user_agent=UA, delay_s=0.0, per_host_concurrency=1, max_concurrency=1,
                                timeout_s=2.0, max_retries=0, backoff_s=0.0, max_wait_s=0.0, max_bytes=10_000,
                                max_redirects=0, content_types=["text/plain"], allow_private_networks=True)  # fmt: skip
        start = time.monotonic()
        got = crawler.fetch(f"http://127.0.0.1:{server.server_address[1]}/slow")
        print(f"trickling {part}: {got.reason} after {time.monotonic() - start:.2f} s, {sent[part]} bytes sent")
        crawler.close()
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
    assert got.reason == "timeout" and got.detail.startswith("no complete answer within timeout_s")
    assert 0 < sent[part] < 20  # 2 s at a byte per 0.3 s; per-read timeouts would have taken all 200


def test_url_file_linked_from_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("http://example.org/\n")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "urls.txt").symlink_to(outside)
    paths = out_paths(tmp_path / "repo")
    with pytest.raises(StageError, match=r"collect source 's' \(url_file: urls.txt\): .* is outside the repository"):
        collect.run(params([{"name": "s", "url_file": "urls.txt"}]), paths, root=tmp_path / "repo")
