"""HTTP and DNS probes: bounded in time and size, one attempt, and a host that is down is asked once."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit

import requests

from scenescout_ir.core.budget import RunBudget
from scenescout_ir.core.config import Source, Thresholds, Timeouts
from scenescout_ir.core.evidence import Evidence
from scenescout_ir.core.outcomes import CouldNotRun
from scenescout_ir.probes.certificate import TlsCertificate, peer_certificate, unverified_certificate
from scenescout_ir.probes.deploy_version import deploy_version
from scenescout_ir.probes.threads import for_main_thread

MAX_BODY = 10_000_000  # bytes of a body read at most (thresholds.body_max_bytes); more is "too large"
EXCERPT = 64 * 1024  # what is kept of a body over the limit (it is judged by its size, not its content)
MAX_REDIRECTS = 5  # followed as `curl -L` would, but bounded
FIRST_READ_MARGIN_S = 1.5  # the first request to a host waits this much past the playbook's SEV2 line
CHUNK = 64 * 1024  # read1 returns what has arrived, at most this (decoded: a gzip bomb is bounded too)
USER_AGENT = "scenescout-ir/0.1 (incident verification; read-only)"
_SHORT_VALUE = 24  # a query value longer than this reads as "…" in a one-line description
_SECRET_PARAMS = re.compile(r"key|token|secret|passw|signature|^sig$|^auth|session", re.I)


@dataclass(frozen=True)
class HttpResult:
    method: str
    url: str
    status: int | None
    elapsed_s: float
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str | None = None  # why there is no (complete) answer: refused, timed out, cut off, redirect loop...
    ttfb_s: float | None = None
    final_url: str | None = None  # where the redirects ended, when there were any
    slow_s: float | None = None  # no answer in time from a host known to answer slowly: it takes at least this
    tls: TlsCertificate | None = None  # the certificate an https host presented (also one it was not accepted for)

    @property
    def ok(self) -> bool:
        """A status below 400 and a complete answer (a body cut off or a redirect loop is not an answer)."""
        return self.status is not None and self.status < 400 and self.error is None

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (a garbage response is a finding, not a crash)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``application/json``), or ``""``."""
        value = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")
        return value.split(";", 1)[0].strip().lower()

    def describe(self) -> str:
        """``GET /api/health -> 503 in 0.04 s`` or ``GET / -> connection refused``: path and query decoded,
        long query values shortened (the full URL is in the evidence)."""
        where = short_url(self.url)
        if self.final_url and self.final_url != self.url:
            where += f" (redirected to {short_url(self.final_url, self.url)})"
        if self.status is None:
            return f"{self.method} {where} -> {self.error}"
        if self.error:
            return f"{self.method} {where} -> {self.status}, {self.error}"
        return f"{self.method} {where} -> {self.status} in {self.elapsed_s:.2f} s"


def short_url(url: str, relative_to: str | None = None) -> str:
    """``/rest/v1/events?select=…&category=eq.music``: path and query decoded, long or secret query values
    as ``…``; the scheme and host only when they differ from ``relative_to``'s."""
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    if parts.query:
        pairs = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if len(value) > _SHORT_VALUE or (_SECRET_PARAMS.search(name) and value):
                value = "…"
            pairs.append(f"{name}={value}" if value or "=" in parts.query else name)
        path += "?" + "&".join(pairs)
    if relative_to is not None:
        base = urlsplit(relative_to)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            path = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{path}"
    return path


def join_url(base_url: str, path: str) -> str:
    """``https://x/app/`` + ``/health`` -> ``https://x/app/health``: never ``//``, never a lost slash; a path's
    own trailing slash is kept (it can be part of the resource's name)."""
    if not path:
        return base_url
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def upstream_request(source: Source, base_url: str) -> tuple[str, dict[str, str]]:
    """``curl -I "https://api.../events.json?apikey=[key]&size=1"``: the source's URL (relative ones against the
    site) with its API key, read from the environment variable the target names, as query parameter or header.
    The key is never shown: the target's secrets include every api_key_env value."""
    url = source.upstream_url or ""
    if url.startswith("/"):
        url = join_url(base_url, url)
    headers: dict[str, str] = {}
    if source.api_key_env:
        key = os.environ.get(source.api_key_env, "").strip()
        if not key:
            raise CouldNotRun(f"{source.api_key_env} is not set: export the {source.name} API key to check its API")
        if source.api_key_header:
            headers[source.api_key_header] = key
        else:
            url += ("&" if urlsplit(url).query else "?") + urlencode({source.api_key_param: key})
    return url, headers


@dataclass(frozen=True)
class DnsResult:
    host: str
    addresses: tuple[str, ...]
    elapsed_s: float
    error: str | None = None


class HttpProbe:
    """GETs with connect and read timeouts and a total deadline; follows redirects (bounded); never retries.

    The first request to a host waits long enough to see the playbook's SEV2 line (``response_sev2_s`` + 1.5 s),
    and what it learns is remembered for the run:

    - the host does not answer (refused, DNS, no answer in time, a body still arriving at the deadline):
      every later request to it gets the same answer at once, instead of waiting out its own timeout;
    - the host answers, but over the SEV2 line: every later request is told at once that it is slow
      (``slow_s``), which a check judges as a significant degradation, not an outage;
    - the host answers slowly but under the line: later requests use the normal read timeout, and one
      that runs out is a slow answer (``slow_s`` = the timeout), not a host that is down.
    """

    def __init__(
        self, timeouts: Timeouts, record: Callable[[Evidence], None], thresholds: Thresholds | None = None,
        budget: RunBudget | None = None,
    ) -> None:
        self.timeouts = timeouts
        self.thresholds = thresholds
        self.max_body = thresholds.body_max_bytes if thresholds is not None else MAX_BODY
        self.budget = budget  # the run's time budget: a check's wait is capped at what is left of it
        self._record = record
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._down: dict[str, str] = {}
        self._slow: dict[str, tuple[float, str]] = {}  # host -> (seconds its first answer took, on which path)
        self._seen: set[str] = set()  # hosts that had their first request
        self._certificates: dict[str, TlsCertificate] = {}  # host -> the certificate it presented
        self._lock = threading.Lock()
        self._prefetched: dict[tuple[str, tuple[tuple[str, str], ...]], concurrent.futures.Future[Any]] = {}
        self.requests_made = 0

    def prefetch(self, requests: list[tuple[str, dict[str, str]]]) -> None:
        """Start these GETs now, all at once, each with a first request's long wait (the run then waits for the
        slowest of them once, not for their sum); a later ``get`` of the same URL and headers takes the result
        instead of asking again, and records it as its own evidence."""
        for url, headers in requests:
            key = (url, tuple(sorted(headers.items())))
            if key in self._prefetched:
                continue
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._prefetched[key] = future
            # daemon threads: a run interrupted while they wait is not held up by them
            with for_main_thread():  # a Ctrl-C reaches the check waiting for this answer at once
                threading.Thread(target=self._fetch_into, args=(future, url, dict(headers)),
                                 name="scenescout-ir-http-prefetch", daemon=True).start()

    def _fetch_into(self, future: concurrent.futures.Future[Any], url: str, headers: dict[str, str]) -> None:
        try:
            # the session-start prefetch is not the run's budget to cut: it must see a hung host as hung
            future.set_result(self._exchange(url, headers, self.first_read_s, MAX_REDIRECTS, budgeted=False))
        except BaseException as exc:  # handed to the check that reads it
            future.set_exception(exc)

    def close(self) -> None:
        self._session.close()

    def host_down(self, url: str) -> str | None:
        return self._down.get(_host(url))

    @property
    def first_read_s(self) -> float:
        """The read timeout of the first request to a host: long enough to see the playbook's SEV2 line."""
        if self.thresholds is None:
            return self.timeouts.read_s
        return max(self.timeouts.read_s, self.thresholds.response_sev2_s + FIRST_READ_MARGIN_S)

    def get(
        self, url: str, *, headers: dict[str, str] | None = None, read_s: float | None = None, record: bool = True,
        redirects: int = MAX_REDIRECTS,
    ) -> HttpResult:
        """One GET, following up to ``redirects`` redirects. ``read_s`` overrides the read timeout (the
        response-time sampler measures past 10 s); ``record=False`` leaves the evidence to the caller (a
        sampler records its samples as one table)."""
        future = None
        if read_s is None and redirects == MAX_REDIRECTS:
            future = self._prefetched.pop((url, tuple(sorted((headers or {}).items()))), None)
        if future is not None:
            result, visited = future.result()
        else:
            result, visited = self._exchange(url, headers or {}, read_s, redirects)
        if record:
            self._record(_evidence(result, visited))
        return result

    def _exchange(
        self, url: str, headers: dict[str, str], read_s: float | None, redirects: int, *, budgeted: bool = True,
    ) -> tuple[HttpResult, list[str]]:
        """The GET and the redirects it leads to: the result and the URLs visited."""
        start = time.monotonic()
        visited = [url]
        current = url
        result = self._one(current, headers or {}, read_s, budgeted=budgeted)
        while result.status in _REDIRECTS and result.error is None and redirects > 0:
            location = next((v for k, v in result.headers.items() if k.lower() == "location"), None)
            if not location:
                break
            target = urljoin(current, location)
            if target in visited:
                chain = " -> ".join(short_url(u, url) for u in [*visited, target])
                result = replace(result, error=f"redirect loop: {chain}")
                break
            if len(visited) > redirects:
                result = replace(result, error=f"more than {redirects} redirects (last to {short_url(target, url)})")
                break
            visited.append(target)
            if _host(target) != _host(current):
                headers = {}  # never carry a key or a cookie to another host
            current = target
            result = self._one(current, headers or {}, read_s, budgeted=budgeted)
        if len(visited) > 1:
            result = replace(result, url=url, final_url=current, elapsed_s=time.monotonic() - start)
        return result, visited

    def _one(self, url: str, headers: dict[str, str], read_s: float | None, *, budgeted: bool = True) -> HttpResult:
        """One exchange with one host, using and updating what is known about that host."""
        host = _host(url)
        path = urlsplit(url).path or "/"
        known = self._down.get(host)
        if known:
            return HttpResult("GET", url, None, 0.0, error=f"{known} (not asked again)",
                              tls=self._certificates.get(host))
        slow = self._slow.get(host)
        line = self.thresholds.response_sev2_s if self.thresholds else None
        if slow and line is not None and slow[0] > line:
            return HttpResult(
                "GET", url, None, 0.0, slow_s=slow[0],
                error=f"slow: this host took {slow[0]:.1f} s to answer GET {slow[1]}, over the {line:g} s line "
                      f"(not asked again)",
            )
        with self._lock:
            first = host not in self._seen
            self._seen.add(host)
        wait = read_s if read_s is not None else self.timeouts.read_s
        if first:
            wait = max(wait, self.first_read_s)
        capped, connect_s, total = False, self.timeouts.connect_s, None
        if self.budget is not None and budgeted:  # a check's request, a sampler's too: none waits past the budget
            total, capped = self.budget.cap(self.timeouts.connect_s + wait)
            if capped:  # the whole exchange ends with the budget: connect and answer within what is left
                connect_s, wait = min(connect_s, total), total
        result = self._get(url, headers, wait, connect_s=connect_s, total_s=total if capped else None)
        if capped and _ran_out(result):
            return self._budget_ran_out(result, path)
        if result.tls is not None:
            with self._lock:
                self._certificates[host] = result.tls
        slo = self.thresholds.response_slo_s if self.thresholds else None
        if result.status is not None and result.error is None:
            if first and slo is not None and result.elapsed_s > slo:
                with self._lock:
                    self._slow.setdefault(host, (result.elapsed_s, path))
            return result
        if slow and result.status is None and "read timeout" in (result.error or ""):
            # the host did answer before, slowly: a timeout now is a slow answer, not a host that is down
            return replace(result, slow_s=wait, error=(
                f"slow: no answer within {wait:g} s (read timeout); this host answered GET {slow[1]} "
                f"in {slow[0]:.1f} s, so it is slow, not down"
            ))
        if result.status is None:
            with self._lock:
                self._down.setdefault(host, f"{result.error}, first seen on GET {path}")
        elif (result.error or "").startswith(("body still arriving", "body stalled")):  # as good as hung
            with self._lock:
                self._down.setdefault(host, f"not answering: {result.error}, first seen on GET {path}")
        return result

    def _budget_ran_out(self, result: HttpResult, path: str) -> HttpResult:
        """A wait cut at the end of the run's budget: not an outage (the host is not marked down). An answer
        already later than the SLO line is slow, and known before the wait ends; anything else could not run."""
        slo = self.thresholds.response_slo_s if self.thresholds else None
        if slo is not None and result.elapsed_s > slo:
            return replace(result, slow_s=result.elapsed_s, error=(
                f"slow: no answer after {result.elapsed_s:.1f} s, when the run's time budget ran out"))
        assert self.budget is not None
        raise self.budget.spent(f"waiting for GET {path} ({result.elapsed_s:.1f} s)")

    def _get(
        self, url: str, headers: dict[str, str], read_s: float, connect_s: float | None = None,
        total_s: float | None = None,
    ) -> HttpResult:
        start = time.monotonic()
        connect_s = self.timeouts.connect_s if connect_s is None else connect_s
        deadline = start + (connect_s + read_s if total_s is None else total_s)
        with self._lock:
            self.requests_made += 1
        try:
            with self._session.get(
                url, headers=headers, stream=True, allow_redirects=False,
                timeout=(connect_s, read_s),
            ) as resp:
                ttfb = time.monotonic() - start
                tls = peer_certificate(getattr(getattr(resp.raw, "_connection", None), "sock", None))
                body, problem = _read_body(resp, read_s, deadline, start, self.max_body)
                text = body.decode(resp.encoding or "utf-8", errors="replace")
                return HttpResult(
                    "GET", url, resp.status_code, time.monotonic() - start,
                    headers=dict(resp.headers), body=text, ttfb_s=ttfb, error=problem, tls=tls,
                )
        except requests.exceptions.SSLError as exc:  # the certificate was not accepted: read which one, and why
            parts = urlsplit(url)
            tls = unverified_certificate(parts.hostname or "", parts.port or 443, self.timeouts.connect_s)
            return HttpResult("GET", url, None, time.monotonic() - start, error=_tls_error(exc, tls), tls=tls)
        except requests.ConnectTimeout:
            error = f"no connection within {connect_s:g} s (connect timeout)"
        except requests.ReadTimeout:
            error = f"no answer within {read_s:g} s (read timeout)"
        except requests.ConnectionError as exc:
            error = _connection_error(exc)
        except requests.RequestException as exc:
            error = f"request failed: {type(exc).__name__}: {exc}"
        return HttpResult("GET", url, None, time.monotonic() - start, error=error)

    def resolve(self, host: str) -> DnsResult:
        """getaddrinfo with a deadline (the resolver itself has none we control)."""
        start = time.monotonic()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        with for_main_thread():
            future = pool.submit(socket.getaddrinfo, host, None, proto=socket.IPPROTO_TCP)
        pool.shutdown(wait=False)
        try:
            infos = future.result(timeout=self.timeouts.dns_s)
            addresses = tuple(sorted({str(info[4][0]) for info in infos}))
            result = DnsResult(host, addresses, time.monotonic() - start)
        except concurrent.futures.TimeoutError:
            result = DnsResult(host, (), time.monotonic() - start, f"no answer within {self.timeouts.dns_s:g} s")
        except OSError as exc:
            result = DnsResult(host, (), time.monotonic() - start, exc.strerror or str(exc))
        text = ", ".join(result.addresses) if result.addresses else f"FAILED: {result.error}"
        self._record(Evidence("dns", f"resolve {host}", f"{host} -> {text} ({result.elapsed_s:.3f} s)"))
        return result


_REDIRECTS = {301, 302, 303, 307, 308}


def _ran_out(result: HttpResult) -> bool:
    """No (complete) answer because the wait ran out: a timeout, or a body still arriving at the deadline."""
    error = result.error or ""
    if result.status is None:
        return "timeout" in error
    return error.startswith(("body still arriving", "body stalled"))


def _read_body(
    resp: requests.Response, read_s: float, deadline: float, start: float, limit: int = MAX_BODY,
) -> tuple[bytes, str | None]:
    """Up to ``limit`` bytes of the body (decoded), read with a socket deadline so that a body trickling in byte by
    byte stops at ``deadline`` (a read timeout alone is per chunk); and what was wrong with it, if anything.

    A body over the limit is "too large": known before reading from its Content-Length (nothing downloaded),
    else stopped at the limit (a chunked body without end, a gzip bomb: the decoded size counts)."""
    raw = resp.raw
    declared = resp.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        return b"", f"too large: {size_text(int(declared))} (limit {size_text(limit)}; its Content-Length, not read)"
    body = bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(body), f"body still arriving after {time.monotonic() - start:.1f} s ({len(body)} bytes)"
            # the socket while the response still holds its connection: once the last raw byte is in (a gzip
            # body still being decoded) urllib3 has handed the connection back to the pool, where another
            # request (a prefetch thread's) may use or close it
            sock = getattr(getattr(raw, "_connection", None), "sock", None)
            if sock is not None:
                sock.settimeout(min(read_s, left))
            chunk = raw.read1(CHUNK, decode_content=True)  # gzip as nginx sends it, decoded, at most CHUNK at once
            if not chunk:
                break
            body.extend(chunk)
            if len(body) > limit:
                received = int(getattr(raw, "_fp_bytes_read", 0) or 0)
                encoded = resp.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity")
                how = (f"decompressed from {size_text(received)} read" if encoded and received
                       else "no Content-Length" if not declared else "more than its Content-Length")
                return bytes(body[:EXCERPT]), (f"too large: over {size_text(limit)} (limit {size_text(limit)}; "
                                               f"{how}, read stopped at the limit)")
    except Exception as exc:  # noqa: BLE001 - urllib3 and ssl raise many kinds; each is a broken body
        if time.monotonic() >= deadline - 0.05:
            return bytes(body), f"body still arriving after {time.monotonic() - start:.1f} s ({len(body)} bytes)"
        text = f"{type(exc).__name__}: {exc}"
        expected = resp.headers.get("Content-Length", "")
        if "IncompleteRead" in text or "ProtocolError" in text:
            received = getattr(raw, "_fp_bytes_read", len(body))
            if expected.isdigit():
                return bytes(body), f"body cut off: {received} of {expected} bytes"
            return bytes(body), f"body cut off after {received} bytes"
        if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
            return bytes(body), f"body stalled: no data for {read_s:g} s after {len(body)} bytes"
        return bytes(body), f"body broken off: {text[:160]}"
    return bytes(body), None


def size_text(n: int) -> str:
    """``100 MB``, ``10 MB``, ``51.2 kB``, ``300 bytes`` (decimal units, as a Content-Length reads)."""
    if n >= 1_000_000:
        return f"{round(n / 1_000_000, 1):g} MB"
    if n >= 1000:
        return f"{round(n / 1000, 1):g} kB"
    return f"{n} bytes"


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _connection_error(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
        return "host name does not resolve"
    if "Read timed out" in text:
        return "no answer (read timeout)"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset by peer" in text:
        return "connection closed without an answer"
    return f"connection failed: {text[:200]}"


def _tls_error(exc: Exception, tls: TlsCertificate | None) -> str:
    """``TLS certificate not accepted: certificate has expired (valid until ...)``."""
    text = str(exc)
    match = re.search(r"certificate verify failed: ([^(]+?)\s*\(", text)
    reason = match.group(1) if match else f"TLS handshake failed: {text[:160]}"
    return f"TLS certificate not accepted: {reason}" + (f" ({tls.describe()})" if tls else "")


def _evidence(result: HttpResult, visited: list[str] | None = None) -> Evidence:
    lines = [f"GET {result.url}"]
    lines += [f"-> redirected to {u}" for u in (visited or [])[1:]]
    if result.status is None:
        lines.append(f"-> no response: {result.error} (after {result.elapsed_s:.3f} s)")
    else:
        lines.append(f"-> {result.status} in {result.elapsed_s:.3f} s (first byte {result.ttfb_s or 0:.3f} s)")
        if result.error:
            lines.append(f"-> {result.error}")
        lines += [f"{k}: {v}" for k, v in result.headers.items()]
        excerpt = result.body[:1500] + ("..." if len(result.body) > 1500 else "")
        if result.tls is not None:
            lines.append(f"-> TLS certificate {result.tls.describe()}")
        lines += ["", excerpt]
    data: dict[str, Any] = {"method": result.method, "url": result.url, "status": result.status,
                            "elapsed_s": round(result.elapsed_s, 4), "error": result.error,
                            "final_url": result.final_url}
    deploy = deploy_version(result.headers, result.body) if result.status is not None else {}
    if deploy:  # what the answer says of the deployed version: the fingerprint compares it between runs
        data["deploy"] = deploy
    if result.tls is not None:
        data["tls"] = result.tls.to_dict()
    return Evidence("http", result.describe(), "\n".join(lines), data)
