"""Below HTTP: can a TCP connection be made, does TLS shake hands, which processes run (Scenario 1's layers)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

from ..evidence import Evidence


@dataclass(frozen=True)
class TcpResult:
    host: str
    port: int
    ok: bool
    elapsed_s: float
    error: str | None = None


@dataclass(frozen=True)
class TlsResult:
    host: str
    ok: bool
    elapsed_s: float
    error: str | None = None
    expires_in_days: float | None = None
    subject: str = ""


@dataclass(frozen=True)
class ProcessMatch:
    pattern: str
    pids: tuple[int, ...]


class Network:
    def __init__(self, connect_s: float, record: Callable[[Evidence], None]) -> None:
        self.connect_s = connect_s
        self._record = record

    def tcp_connect(self, host: str, port: int) -> TcpResult:
        """Open and close a TCP connection: does anything listen there?"""
        start = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=self.connect_s):
                result = TcpResult(host, port, True, time.monotonic() - start)
        except TimeoutError:
            result = TcpResult(host, port, False, time.monotonic() - start,
                               f"no TCP answer within {self.connect_s:g} s (filtered or host down)")
        except ConnectionRefusedError:
            result = TcpResult(host, port, False, time.monotonic() - start, "connection refused (nothing listens)")
        except OSError as exc:
            result = TcpResult(host, port, False, time.monotonic() - start, exc.strerror or str(exc))
        state = "open" if result.ok else f"FAILED: {result.error}"
        self._record(Evidence("net", f"tcp {host}:{port}", f"TCP {host}:{port} -> {state} ({result.elapsed_s:.3f} s)"))
        return result

    def tls_handshake(self, host: str, port: int) -> TlsResult:
        """A verified TLS handshake, and how long the certificate has left."""
        start = time.monotonic()
        context = ssl.create_default_context()
        try:
            with socket.create_connection((host, port), timeout=self.connect_s) as raw, \
                    context.wrap_socket(raw, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
            expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])), UTC)
            days = (expires - datetime.now(UTC)).total_seconds() / 86400
            subject = ", ".join("=".join(pair) for rdn in cert.get("subject", ()) for pair in rdn)
            result = TlsResult(host, True, time.monotonic() - start, None, days, subject)
        except (OSError, ssl.SSLError, KeyError, ValueError) as exc:
            result = TlsResult(host, False, time.monotonic() - start, str(exc) or type(exc).__name__)
        text = (f"TLS {host}:{port} -> ok, {result.subject}, certificate expires in {result.expires_in_days:.0f} days"
                if result.ok else f"TLS {host}:{port} -> FAILED: {result.error}")
        self._record(Evidence("net", f"tls {host}", text))
        return result

    def processes(self, patterns: tuple[str, ...]) -> list[ProcessMatch]:
        """ps aux | grep -E "(node|npm|supabase)": the pids whose command line contains each pattern."""
        found: dict[str, list[int]] = {p: [] for p in patterns}
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if proc.info.get("status") == psutil.STATUS_ZOMBIE:
                continue
            for pattern in patterns:
                if pattern in cmdline:
                    found[pattern].append(proc.info["pid"])
        matches = [ProcessMatch(p, tuple(pids)) for p, pids in found.items()]
        self._record(Evidence("host", "processes (ps aux | grep)", "\n".join(
            f"{m.pattern!r}: {', '.join(map(str, m.pids)) or 'NOT RUNNING'}" for m in matches)))
        return matches
