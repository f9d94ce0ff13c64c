"""Small pure judgements the checks share: what counts as an unhealthy health body, a slow answer."""

from __future__ import annotations

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


_DATABASE_DIAGNOSES = (
    ("too many clients", "every connection slot is taken"),
    ("password authentication failed", "the credentials are refused (a rotated password or a wrong role)"),
    ("does not exist", "the database or role named in the DSN does not exist"),
    ("timeout", "the server does not answer in time: hung, overloaded, or the network drops packets"),
    ("no answer", "the server does not answer in time: hung, overloaded, or the network drops packets"),
    ("refused", "nothing listens on the database port: the server is down"),
    ("closed the connection", "the server (or a proxy in front of it) accepts and drops connections"),
    ("starting up", "the server is starting up or in recovery"),
    ("shutting down", "the server is shutting down"),
)


def diagnose_database_error(error: str) -> str:
    """A connection error in words a person acts on (Scenario 2)."""
    lowered = error.lower()
    return next((words for key, words in _DATABASE_DIAGNOSES if key in lowered), "the connection failed")
