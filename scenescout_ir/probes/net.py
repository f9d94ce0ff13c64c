"""Below HTTP: can a TCP connection be made, does TLS shake hands, which processes run (Scenario 1's layers)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from scenescout_ir.core.evidence import Evidence


@dataclass(frozen=True)
class TcpResult:
    host: str
    port: int
    ok: bool
    elapsed_s: float
    error: str | None = None


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
