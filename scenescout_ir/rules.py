"""Small pure judgements the checks share: what counts as an unhealthy health body, a slow answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .config import Thresholds
from .outcomes import Finding
from .probes.http import HttpResult

_BAD = {"degraded", "down", "error", "fail", "failed", "failing", "unhealthy", "critical", "unavailable", "ko"}
_STATUS_KEYS = {"status", "state", "health", "database", "db", "postgres", "api", "cache", "redis"}


def unhealthy_fields(body: Any, path: str = "") -> list[str]:
    """``["status=degraded", "database=down"]`` from a health JSON body (one level of nesting looked into)."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return problems
    for key, value in body.items():
        name = f"{path}{key}"
        lowered = str(key).lower()
        if isinstance(value, bool):
            if lowered in {"ok", "healthy", "up", "alive"} and value is False:
                problems.append(f"{name}=false")
        elif isinstance(value, str):
            if lowered in _STATUS_KEYS and value.strip().lower() in _BAD:
                problems.append(f"{name}={value}")
        elif isinstance(value, dict) and not path:
            problems += unhealthy_fields(value, f"{name}.")
    return problems


def check_response_time(result: HttpResult, limits: Thresholds) -> None:
    """Raise the playbook's finding for a slow answer: over the SLO is minor, over 10 s significant."""
    path = result.describe().split(" ", 2)[1]
    if result.elapsed_s > limits.response_sev2_s:
        raise Finding(
            "significant_degradation",
            f"{path} took {result.elapsed_s:.1f} s (limit: {limits.response_sev2_s:g} s, the playbook's SEV2 line)",
        )
    if result.elapsed_s > limits.response_slo_s:
        raise Finding("slow_site", f"{path} took {result.elapsed_s:.1f} s (SLO: {limits.response_slo_s:g} s)")


# Why a connection attempt failed, in the order libpq meets the problems: (patterns in the lowered error, the
# phase that failed, whether it is the suite's own problem ("blind"), the words a person acts on).
# Blind: the suite cannot see the database because of its own DSN, credentials or TLS settings; nothing
# says the database is down, so it is not an incident (but never a silent OK: see README, "CI gate").
# Not blind: the server is down or refuses everyone: an incident.
_CONNECT_FAILURES: tuple[tuple[tuple[str, ...], str, bool, str], ...] = (
    (("failed to resolve host", "could not translate host name"),
     "dns", True, "the DSN's host name does not resolve: most likely a typo in it (or the suite's name server "
     "is unreachable)"),
    (("is not set", "is malformed", "invalid connection option", "invalid uri", 'missing "="', "invalid port",
      "invalid integer value", "invalid value for parameter", r"invalid \w+ value", "invalid connection string"),
     "configuration", True, "the DSN itself is wrong (unset, malformed, or an impossible port or option)"),
    (("received invalid response to ssl negotiation", "unsupported frontend protocol", "invalid response"),
     "tls", True, "something other than PostgreSQL answers on that port: the DSN's port is most likely wrong"),
    (("password authentication failed", "no password supplied", "authentication failed", "pg_hba.conf",
      "not permitted to log in", "permission denied for database", "scram"),
     "authentication", True, "the credentials are refused (a rotated password or a wrong role)"),
    (("does not exist",),
     "authentication", True, "the database or role named in the DSN does not exist"),
    (("ssl syscall error", "closed the connection", "terminating connection", "connection reset"),
     "startup", False, "the server (or a proxy in front of it) accepts and drops connections"),
    (("server does not support ssl", "ssl", "certificate"),
     "tls", True, "the TLS handshake failed: the DSN's sslmode/sslrootcert do not match the server"),
    (("too many clients", "remaining connection slots", "too many connections"),
     "startup", False, "every connection slot is taken"),
    (("shutting down",), "startup", False, "the server is shutting down"),
    (("starting up", "recovery mode", "not yet accepting", "not accepting connections"),
     "startup", False, "the server is starting up or in recovery"),
    (("refused",), "tcp", False, "nothing listens on the database port: the server is down"),
    (("timeout", "timed out", "no answer"),
     "tcp", False, "the server does not answer in time: hung, overloaded, or the network drops packets"),
    (("no route to host", "network is unreachable", "host is unreachable"),
     "tcp", False, "the network to the database is down"),
)


@dataclass(frozen=True)
class ConnectFailure:
    """Where a connection attempt failed and whose problem it is."""

    phase: str  # configuration | dns | tcp | tls | authentication | startup | first query
    blind: bool  # the suite's own DSN/credentials/TLS settings: it cannot see the database, not an incident
    diagnosis: str


def classify_connect_error(error: str) -> ConnectFailure:
    """The phase a connection error comes from (DNS, TCP, TLS, authentication...), from libpq's words."""
    lowered = error.lower()
    for keys, phase, blind, words in _CONNECT_FAILURES:
        if any(re.search(key, lowered) for key in keys):
            return ConnectFailure(phase, blind, words)
    return ConnectFailure("connect", False, "the connection failed")


def diagnose_database_error(error: str) -> str:
    """A connection error in words a person acts on (Scenario 2)."""
    return classify_connect_error(error).diagnosis
