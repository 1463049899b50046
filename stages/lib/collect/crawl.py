"""Polite HTTP fetching: robots.txt, per-host delay and concurrency, retries with backoff, limits.

`Crawler.fetch(url)` never raises for a network or HTTP problem: it returns a
`Fetch` whose `reason` says why the page was not kept (None when it was).

Retries and redirects are handled here rather than by urllib3's `Retry` and
requests' redirect following, because both must pass through the per-host gate:
a `Retry-After` from one page must hold back every request to that host, every
attempt must respect the host delay, and every redirect hop must be checked
against robots.txt and the allowed schemes before it is requested.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import hashlib
import ipaddress
import itertools
import re
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
from protego import Protego

from stages.lib.core.errors import StageError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512_000  # RFC 9309: parse at least 500 KiB
SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed
MAX_SITEMAPS = 1000  # sitemap files read from one index, nested ones included
CHUNK = 16 * 1024
# one wording whichever clock notices first (the body reader or the watchdog), so the manifest does not depend on it
TIMEOUT_DETAIL = "no complete answer within timeout_s (a total deadline)"

# Why a page was not kept. `robots` is counted apart (skipped, not failed).
FAIL_REASONS = (
    "bad_url",
    "connection_error",
    "content_type",
    "duplicate",
    "http_error",
    "no_text",
    "private_network",
    "rate_limited",
    "server_error",
    "timeout",
    "too_large",
    "too_many_redirects",
)


@dataclass
class Fetch:
    """What happened to one URL: the body when it was fetched, the reason when it was not."""

    requested_url: str
    final_url: str
    status: int | None = None
    reason: str | None = None
    detail: str | None = None
    redirects: list[str] = field(default_factory=list)
    attempts: int = 0
    nbytes: int = 0
    media_type: str | None = None
    charset: str | None = None
    body: bytes | None = None
    content_hash: str | None = None
    fetched_at: str | None = None
    location: str | None = None  # a redirect's target, before it is followed
    retry_after: float | None = None


class HostGate:
    """At most `concurrency` requests in flight to one host, their starts at least `delay_s` apart."""

    def __init__(self, delay_s: float, concurrency: int):
        self.delay_s = delay_s
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._next_start = 0.0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            while True:
                with self._lock:
                    now = time.monotonic()
                    wait = self._next_start - now
                    if wait <= 0:
                        self._next_start = now + self.delay_s
                        break
                time.sleep(wait)  # re-checked: a Retry-After seen meanwhile may push the start further
            yield

    def defer(self, seconds: float) -> None:
        """Hold back every request to this host for `seconds` from now (backoff, Retry-After)."""
        with self._lock:
            self._next_start = max(self._next_start, time.monotonic() + seconds)

    def slow_down(self, delay_s: float) -> None:
        """Raise the delay, never lower it (robots.txt Crawl-delay)."""
        with self._lock:
            self.delay_s = max(self.delay_s, delay_s)


class Crawler:
    """Fetches pages politely; thread-safe, one requests.Session per worker thread."""

    def __init__(
        self,
        *,
        user_agent: str,
        delay_s: float,
        per_host_concurrency: int,
        max_concurrency: int,
        timeout_s: float,
        max_retries: int,
        backoff_s: float,
        max_wait_s: float,
        max_bytes: int,
        max_redirects: int,
        content_types: list[str],
        allow_private_networks: bool = False,
    ):
        self.user_agent = user_agent
        self.delay_s = delay_s
        self.per_host_concurrency = per_host_concurrency
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.content_types = tuple(content_types)
        self.allow_private_networks = allow_private_networks
        self.stats: Counter[str] = Counter()  # http_requests, retries, bytes
        self._lock = threading.Lock()
        self._gates: dict[str, HostGate] = {}
        self._robots: dict[str, Protego | bool | Fetch] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    # -- public -----------------------------------------------------------------------------------

    def fetch(self, url: str) -> Fetch:
        """Fetch one page: robots.txt and scheme checked at every redirect hop, type and size enforced."""
        return self._fetch(url, self.content_types, self.max_bytes, self.max_redirects, robots=True)

    def fetch_many(self, urls: list[str]) -> Iterator[tuple[int, Fetch]]:
        """Fetch pages on `max_concurrency` threads; yield (index in `urls`, Fetch) as each finishes.

        Hosts take turns in the queue, so that threads do not all wait on one host's gate
        while pages of other hosts could be fetched.
        """
        by_host: dict[str, list[int]] = {}
        for i, url in enumerate(urls):
            by_host.setdefault(_host(url), []).append(i)
        order = [i for turn in itertools.zip_longest(*by_host.values()) for i in turn if i is not None]
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="collect")
        try:
            futures = {pool.submit(self.fetch, urls[i]): i for i in order}
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def robots_verdict(self, url: str) -> tuple[str, str] | None:
        """None when robots.txt lets `user_agent` fetch the URL; otherwise (reason, detail).

        robots.txt is read once per origin. The reason is `robots` for a disallowed
        URL, or why robots.txt could not be read when the site was unreachable.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, Fetch):
            return rules.reason or "connection_error", f"robots.txt unreachable, so nothing is fetched: {rules.detail}"
        if not robots_allows(rules, self.user_agent, url):
            return "robots", f"robots.txt disallows {url} for {self.user_agent}"
        return None

    def sitemap_urls(self, sitemap: str) -> list[str]:
        """Every page <loc> of a sitemap, following sitemap indexes, in document order.

        Raises StageError when a sitemap cannot be fetched or parsed: a source
        without its page list should stop the stage, not yield an empty snapshot.
        """
        pages: list[str] = []
        queue, seen = [sitemap], set()
        while queue:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            if len(seen) > MAX_SITEMAPS:
                raise StageError(f"sitemap {sitemap}: more than {MAX_SITEMAPS} nested sitemaps")
            got = self._fetch(url, None, SITEMAP_MAX_BYTES, self.max_redirects, robots=True)
            if got.reason is not None:
                raise StageError(
                    f"sitemap {url}: {got.reason} (status {got.status}{', ' + got.detail if got.detail else ''})"
                )
            assert got.body is not None
            kind, locs = parse_sitemap(_gunzip(got.body, SITEMAP_MAX_BYTES, url))
            if kind == "sitemapindex":
                queue.extend(locs)
            else:
                pages.extend(locs)
        return pages

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    # -- internals --------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter()
            # pools whose connections report their socket to the watchdog of the request in flight
            adapter.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = self.user_agent
            session.headers["Accept"] = ", ".join([*self.content_types, "*/*;q=0.1"])
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _gate(self, url: str) -> HostGate:
        host = _host(url)
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate(self.delay_s, self.per_host_concurrency)
            return gate

    def _count(self, **amounts: int) -> None:
        with self._lock:
            self.stats.update(amounts)

    def _fetch(self, url: str, accept: tuple[str, ...] | None, limit: int, max_redirects: int, robots: bool) -> Fetch:
        result = Fetch(requested_url=url, final_url=url)
        current = url
        for _ in range(max_redirects + 1):
            if not is_http_url(current):
                result.reason, result.detail = "bad_url", f"not an http(s) URL: {current}"
                return result
            refused = None if self.allow_private_networks else private_target(current)
            if refused is not None:
                result.reason, result.detail = "private_network", refused
                return result
            verdict = self.robots_verdict(current) if robots else None
            if verdict is not None:
                result.reason, result.detail = verdict
                return result
            hop = self._with_retries(current, accept, limit)
            result.status, result.attempts = hop.status, result.attempts + hop.attempts
            result.nbytes += hop.nbytes
            result.fetched_at = hop.fetched_at
            if hop.location is not None:
                current = urldefrag(urljoin(current, hop.location)).url
                result.redirects.append(current)
                result.final_url = current
                continue
            result.reason, result.detail = hop.reason, hop.detail
            result.media_type, result.charset = hop.media_type, hop.charset
            result.body, result.content_hash = hop.body, hop.content_hash
            return result
        result.reason, result.detail = "too_many_redirects", f"more than {max_redirects} redirects"
        return result

    def _with_retries(self, url: str, accept: tuple[str, ...] | None, limit: int) -> Fetch:
        """One hop: retried on timeouts, connection errors, 429 and 5xx, with exponential backoff."""
        gate = self._gate(url)
        for attempt in range(1, self.max_retries + 2):
            with gate.slot():
                hop = self._once(url, accept, limit)
            hop.attempts = attempt
            retryable = hop.reason in ("timeout", "connection_error") or hop.status in RETRY_STATUSES
            if not retryable:
                return hop
            # a timeout or connection error stays one even after a 200 status line
            gave_up = hop.reason or ("rate_limited" if hop.status == 429 else "server_error")
            if attempt > self.max_retries:
                hop.reason = gave_up
                hop.detail = hop.detail or f"status {hop.status} after {attempt} attempts"
                return hop
            wait = min(self.backoff_s * 2 ** (attempt - 1), self.max_wait_s)
            if hop.retry_after is not None:
                if hop.retry_after > self.max_wait_s:
                    hop.reason = gave_up
                    hop.detail = f"Retry-After {hop.retry_after:g} s exceeds max_wait_s={self.max_wait_s:g}"
                    return hop
                wait = max(wait, hop.retry_after)
            gate.defer(wait)
            self._count(retries=1)
        raise AssertionError("unreachable")

    def _once(self, url: str, accept: tuple[str, ...] | None, limit: int) -> Fetch:
        """A single GET under a total deadline of timeout_s: a watchdog shuts the socket down when it passes,
        so neither a server trickling its headers nor one trickling its body can hold the attempt longer."""
        watch = _Watchdog(self.timeout_s)
        _current.watch = watch
        try:
            hop = self._attempt(url, accept, limit)
        finally:
            _current.watch = None
            watch.cancel()
        if watch.expired:  # whatever was parsed from a cut-off answer (headers ended early, half a body) is void
            hop.reason, hop.detail = "timeout", TIMEOUT_DETAIL
            hop.body = hop.content_hash = hop.location = None
        return hop

    def _attempt(self, url: str, accept: tuple[str, ...] | None, limit: int) -> Fetch:
        """A single GET: no redirects followed, the body read only when it is wanted and within limits."""
        hop = Fetch(requested_url=url, final_url=url)
        started = time.monotonic()
        self._count(http_requests=1)
        try:
            response = self._session().get(url, stream=True, allow_redirects=False, timeout=self.timeout_s)
        except requests.Timeout as exc:
            hop.reason, hop.detail = "timeout", _short(exc)
            return hop
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, ValueError) as exc:
            # not retried: it would fail the same way. ValueError: requests parses a redirect's
            # Location even when not following it, and urllib raises on a broken IPv6 literal there.
            hop.reason, hop.detail = "bad_url", _short(exc)
            return hop
        except requests.RequestException as exc:
            hop.reason, hop.detail = "connection_error", _short(exc)
            return hop
        with response:
            refused = None if self.allow_private_networks else private_peer(response)
            if refused is not None:  # the name resolved to a public address a moment ago (DNS rebinding)
                hop.reason, hop.detail = "private_network", refused
                return hop
            hop.status = response.status_code
            hop.fetched_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            if hop.status in REDIRECT_STATUSES:
                hop.location = response.headers.get("Location")
                if hop.location is None:
                    hop.reason, hop.detail = "http_error", "redirect without a Location header"
                return hop
            if hop.status in RETRY_STATUSES:
                hop.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                return hop
            if not 200 <= hop.status < 300:
                hop.reason, hop.detail = "http_error", f"status {hop.status}"
                return hop
            hop.media_type, hop.charset = parse_content_type(response.headers.get("Content-Type"))
            if accept is not None and hop.media_type not in accept:
                hop.reason, hop.detail = "content_type", f"{hop.media_type or 'no Content-Type'} is not accepted"
                return hop
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                hop.reason, hop.detail = "too_large", f"Content-Length {declared} > {limit} bytes"
                return hop
            body = bytearray()
            hop.reason, hop.detail = _read_body(response, body, limit, started + self.timeout_s)
            hop.nbytes = len(body)
            self._count(bytes=len(body))
            if hop.reason is None:
                hop.body = bytes(body)
                hop.content_hash = hashlib.sha256(hop.body).hexdigest()
            return hop

    def _load_robots(self, origin: str) -> Protego | bool | Fetch:
        """robots.txt of one origin (parsed by Protego), read as RFC 9309 says: a 4xx (or a redirect loop)
        allows everything (True); 401/403 and an oversized file disallow everything (False); an unreachable
        site (5xx, 429, timeout, connection error, after retries) is returned as its failed Fetch, and
        nothing is fetched from it."""
        got = self._fetch(f"{origin}/robots.txt", None, ROBOTS_MAX_BYTES, 5, robots=False)
        if got.reason is None and got.body is not None:
            rules = Protego.parse(got.body.decode("utf-8", errors="replace"))
        elif got.status in (401, 403) or got.reason == "too_large":
            return False
        elif got.reason in ("too_many_redirects", "bad_url") or (
            got.reason == "http_error" and got.status is not None and 400 <= got.status < 500
        ):
            return True
        else:
            return got
        delays = [rules.crawl_delay(self.user_agent)]
        rate = rules.request_rate(self.user_agent)
        if rate is not None and rate.requests:
            delays.append(rate.seconds / rate.requests)
        delay = max((float(d) for d in delays if d is not None), default=0.0)
        if delay > 0:
            self._gate(origin).slow_down(delay)
        return rules


_current = threading.local()  # the _Watchdog of the request this thread has in flight


class _Watchdog:
    """Shuts down the socket of one request when `seconds` have passed (see Crawler._once)."""

    def __init__(self, seconds: float):
        self.expired = False
        self.sock = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock) -> None:
        self.sock = sock
        if self.expired:
            self._expire()

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        self.expired = True
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """Connection mixin: before reading the status line, hand the socket to this thread's watchdog."""

    def getresponse(self):  # type: ignore[no-untyped-def]
        watch = getattr(_current, "watch", None)
        if watch is not None and self.sock is not None:
            watch.watch(self.sock)
        return super().getresponse()


class _WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def robots_allows(rules: Protego | bool, user_agent: str, url: str) -> bool:
    """Protego's RFC 9309 matching (longest rule wins, `*` and `$` patterns); a bool allows or refuses all."""
    if isinstance(rules, bool):
        return rules
    return rules.can_fetch(url, user_agent)


def private_target(url: str) -> str | None:
    """Why `url` must not be fetched (its host resolves to a loopback, private, link-local, multicast or
    reserved address), or None. Every address the name resolves to must be public."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError, ValueError):
        return None  # the request itself reports the name error (connection_error)
    for info in infos:
        why = _non_public(info[4][0])
        if why is not None:
            return (
                f"{parts.hostname} resolves to {info[4][0]} ({why}); set collect.allow_private_networks: true "
                "to fetch from your own network"
            )
    return None


def private_peer(response: requests.Response) -> str | None:
    """Why the address the response actually came from is not public, or None (also when it is unknown)."""
    with contextlib.suppress(AttributeError, OSError):
        address = response.raw.connection.sock.getpeername()[0]
        why = _non_public(address)
        if why is not None:
            return f"connected to {address} ({why}); set collect.allow_private_networks: true to allow it"
    return None


def _non_public(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):  # most specific first
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "not globally routable"


def _read_body(
    response: requests.Response, body: bytearray, limit: int, deadline: float
) -> tuple[str | None, str | None]:
    """Read the body into `body`, stopping past `limit` bytes or at `deadline`; (reason, detail) or (None, None).

    `deadline` is total: each socket read may wait only for the time left, and whatever arrives is
    taken at once (`read1`), so a server trickling a byte at a time cannot stretch the request.
    """
    sock = None
    with contextlib.suppress(AttributeError):
        sock = response.raw.connection.sock
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", TIMEOUT_DETAIL
            if sock is not None:
                sock.settimeout(left)
            chunk = response.raw.read1(CHUNK, decode_content=True)
            if not chunk:
                return None, None
            body += chunk
            if len(body) > limit:
                del body[limit + 1 :]  # what arrived past the limit depends on timing; the record must not
                return "too_large", f"body cut off after {limit} bytes"
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        return "timeout", TIMEOUT_DETAIL
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        return ("timeout" if "timed out" in str(exc).lower() else "connection_error"), _short(exc)


def is_http_url(url: str) -> bool:
    """An http(s) URL with a host that urllib can parse (a broken IPv6 literal raises there)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """'text/html; charset=ISO-8859-1' -> ('text/html', 'ISO-8859-1')."""
    if not value:
        return None, None
    message = email.message.Message()
    message["Content-Type"] = value
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def parse_sitemap(body: bytes) -> tuple[str, list[str]]:
    """('urlset' or 'sitemapindex', the <loc> URLs) of a sitemap; a plain-text sitemap (one URL a line)
    is read as a urlset. Entities are not expanded and nothing is fetched by the parser."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        text = body.decode("utf-8", errors="replace")
        locs = [line.strip() for line in text.splitlines() if line.strip()]
        if locs and all(re.match(r"https?://", loc) for loc in locs):
            return "urlset", locs
        raise StageError("sitemap is neither sitemap XML nor a list of URLs") from None
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise StageError(f"sitemap root element is <{kind}>, expected <urlset> or <sitemapindex>")
    locs = [
        (el.text or "").strip()
        for el in root.iter("{*}loc")
        if etree.QName(el.getparent()).localname in ("url", "sitemap") and (el.text or "").strip()
    ]
    return kind, locs


def read_url_file(path: Path) -> list[str]:
    """URLs from a text file, one a line; blank lines and # comments skipped."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def select_urls(urls: list[str], include: list[str], exclude: list[str], max_pages: int | None) -> list[str]:
    """Drop fragments and repeats, keep URLs matching an include (if any) and no exclude, then the first N."""
    kept: list[str] = []
    seen: set[str] = set()
    for url in urls:
        url = url.strip()
        with contextlib.suppress(ValueError):  # unparsable: kept as is, reported as bad_url when fetched
            url = urldefrag(url).url
        if url in seen:
            continue
        seen.add(url)
        if include and not any(re.search(p, url) for p in include):
            continue
        if any(re.search(p, url) for p in exclude):
            continue
        kept.append(url)
        if max_pages is not None and len(kept) >= max_pages:
            break
    return kept


def _gunzip(body: bytes, limit: int, url: str) -> bytes:
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise StageError(f"sitemap {url}: broken gzip data ({exc})") from None
    if len(data) > limit:
        raise StageError(f"sitemap {url}: more than {limit} bytes once decompressed")
    return data


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _short(exc: BaseException) -> str:
    return str(exc).replace("\n", " ")[:300]
