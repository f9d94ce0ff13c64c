"""HTTP and DNS probes: bounded in time and size, one attempt, and a host that is down is asked once."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from ..config import Timeouts
from ..evidence import Evidence

MAX_BODY = 64 * 1024
USER_AGENT = "scenescout-ir/0.1 (incident verification; read-only)"


@dataclass(frozen=True)
class HttpResult:
    method: str
    url: str
    status: int | None
    elapsed_s: float
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str | None = None  # why there is no status: refused, timed out, DNS...
    ttfb_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (a garbage response is a finding, not a crash)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        """``GET /api/health -> 503 in 0.04 s`` or ``GET / -> connection refused``."""
        path = urlsplit(self.url).path or "/"
        if self.status is None:
            return f"{self.method} {path} -> {self.error}"
        return f"{self.method} {path} -> {self.status} in {self.elapsed_s:.2f} s"


@dataclass(frozen=True)
class DnsResult:
    host: str
    addresses: tuple[str, ...]
    elapsed_s: float
    error: str | None = None


class HttpProbe:
    """GETs with connect and read timeouts and a total deadline; never retries.

    When a host refuses, times out or does not resolve, the failure is remembered and every later
    request to that host gets the same answer at once, instead of waiting out its own timeout.
    """

    def __init__(self, timeouts: Timeouts, record: Callable[[Evidence], None]) -> None:
        self.timeouts = timeouts
        self._record = record
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._down: dict[str, str] = {}
        self._lock = threading.Lock()
        self.requests_made = 0

    def close(self) -> None:
        self._session.close()

    def host_down(self, url: str) -> str | None:
        return self._down.get(_host(url))

    def get(
        self, url: str, *, headers: dict[str, str] | None = None, read_s: float | None = None, record: bool = True
    ) -> HttpResult:
        """One GET. ``read_s`` overrides the read timeout (the response-time sampler measures past 10 s);
        ``record=False`` leaves the evidence to the caller (a sampler records its samples as one table)."""
        host = _host(url)
        known = self._down.get(host)
        if known:
            result = HttpResult("GET", url, None, 0.0, error=f"{known} (not asked again)")
        else:
            result = self._get(url, headers or {}, self.timeouts.read_s if read_s is None else read_s)
            if result.status is None:
                with self._lock:
                    self._down.setdefault(host, f"{result.error}, first seen on GET {urlsplit(url).path or '/'}")
        if record:
            self._record(_evidence(result))
        return result

    def _get(self, url: str, headers: dict[str, str], read_s: float) -> HttpResult:
        start = time.monotonic()
        deadline = start + self.timeouts.connect_s + read_s
        with self._lock:
            self.requests_made += 1
        try:
            with self._session.get(
                url, headers=headers, stream=True, allow_redirects=False,
                timeout=(self.timeouts.connect_s, read_s),
            ) as resp:
                ttfb = time.monotonic() - start
                body = bytearray()
                broken = None
                try:
                    for chunk in resp.iter_content(8192):
                        body.extend(chunk)
                        if len(body) >= MAX_BODY or time.monotonic() > deadline:
                            break
                except requests.RequestException as exc:  # the status came, the body broke off
                    broken = f"body broken off: {type(exc).__name__}"
                text = bytes(body[:MAX_BODY]).decode(resp.encoding or "utf-8", errors="replace")
                return HttpResult(
                    "GET", url, resp.status_code, time.monotonic() - start,
                    headers=dict(resp.headers), body=text, ttfb_s=ttfb, error=broken,
                )
        except requests.ConnectTimeout:
            error = f"no connection within {self.timeouts.connect_s:g} s (connect timeout)"
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


def _evidence(result: HttpResult) -> Evidence:
    lines = [f"GET {result.url}"]
    if result.status is None:
        lines.append(f"-> no response: {result.error} (after {result.elapsed_s:.3f} s)")
    else:
        lines.append(f"-> {result.status} in {result.elapsed_s:.3f} s (first byte {result.ttfb_s or 0:.3f} s)")
        lines += [f"{k}: {v}" for k, v in result.headers.items()]
        excerpt = result.body[:1500] + ("..." if len(result.body) > 1500 else "")
        lines += ["", excerpt]
    return Evidence(
        "http", result.describe(), "\n".join(lines),
        {"method": result.method, "url": result.url, "status": result.status,
         "elapsed_s": round(result.elapsed_s, 4), "error": result.error},
    )
