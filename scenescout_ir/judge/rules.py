"""Small pure judgements the checks share: what counts as an unhealthy health body, a slow answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from scenescout_ir.core.config import Thresholds
from scenescout_ir.core.outcomes import Finding
from scenescout_ir.probes.http import HttpResult, short_url

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


_HTML = ("<!doctype html", "<html", "<head", "<body")


def health_answer_problem(result: HttpResult) -> str | None:
    """What is wrong with a health endpoint's 2xx answer, or None when it is what a health endpoint says:
    JSON (whose status fields are judged by :func:`unhealthy_fields`), a short plain-text word such as "ok"
    or "healthy", or no body at all (the status is the answer, as for `curl -I`). A web page is never a
    health status: a default nginx page or the front end's index.html behind a catch-all route answers 200
    whatever the state of the application."""
    body = result.body.strip()
    kind = result.content_type
    if kind in ("text/html", "application/xhtml+xml") or body[:200].lower().lstrip().startswith(_HTML):
        title = re.search(r"<title[^>]*>([^<]{1,80})", body, re.I)
        seen = f" ({title.group(1).strip()!r})" if title and title.group(1).strip() else ""
        return f"answers an HTML page{seen}, not a health status"
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        if kind == "application/json" or kind.endswith("+json"):
            return f"answers invalid JSON ({_excerpt(body)})"
        words = re.findall(r"[a-z]+", body.lower())
        bad = next((w for w in words if w in _BAD), None)
        # plain text: "ok", "healthy", "OK - db connected" are health statuses; a word of failure is not
        return f"says {bad!r} ({_excerpt(body)})" if bad else None
    if parsed is False or (isinstance(parsed, str) and parsed.strip().lower() in _BAD):
        return f"answers {_excerpt(body)}"
    return None


def _excerpt(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return repr(line if len(line) <= limit else line[:limit] + "…")


def check_slow(result: HttpResult, limits: Thresholds) -> None:
    """Raise the playbook's slow finding for a request that got no answer in time from a host known to answer
    slowly (the probe's ``slow_s``): slow is not down. Likewise a request refused for the host's expired TLS
    certificate is that certificate's finding (renew it), not an outage (restart the app)."""
    if result.status is None and result.tls is not None and result.tls.days_left() <= 0:
        raise Finding("tls_certificate_expired", f"{short_url(result.url)}: {result.error or 'certificate expired'}")
    if result.status is None and result.slow_s is not None:
        path = short_url(result.url)
        condition = "significant_degradation" if result.slow_s > limits.response_sev2_s else "slow_site"
        line = limits.response_sev2_s if condition == "significant_degradation" else limits.response_slo_s
        detail = (result.error or "").removeprefix("slow: ")
        raise Finding(condition, f"SLOW: {path}: {detail} (limit: {line:g} s)")


def check_response_time(result: HttpResult, limits: Thresholds) -> None:
    """Raise the playbook's finding for a slow answer: over the SLO is minor, over 10 s significant."""
    check_slow(result, limits)
    path = short_url(result.url)
    if result.elapsed_s > limits.response_sev2_s:
        raise Finding(
            "significant_degradation",
            f"{path} is slow: {result.elapsed_s:.1f} s (limit: {limits.response_sev2_s:g} s, the playbook's SEV2 line)",
        )
    if result.elapsed_s > limits.response_slo_s:
        raise Finding("slow_site", f"{path} is slow: {result.elapsed_s:.1f} s (SLO: {limits.response_slo_s:g} s)")


# Why a connection attempt failed, in the order libpq meets the problems: (patterns in the lowered error, the
# phase that failed, whether it is the suite's own problem ("blind"), the words a person acts on).
# Blind: the suite cannot see the database because of its own DSN, credentials or TLS settings; nothing
# says the database is down, so it is not an incident (but never a silent OK: see README, "CI gate").
# Not blind: the server is down or refuses everyone: an incident.
_CONNECT_FAILURES: tuple[tuple[tuple[str, ...], str, bool, str], ...] = (
    (("failed to resolve host", "could not translate host name"),
     "dns", True, "the DSN's host name does not resolve: most likely a typo in it (or the suite's name server "
     "is unreachable)"),
    # a connection pooler (PgBouncer, Supavisor) refusing the suite's connection: its own configuration, not the
    # database (PgBouncer's default configuration refuses an `options` startup parameter in the DSN, and knows only
    # the databases of its [databases] section)
    (("unsupported startup parameter",),
     "pooler", True, "the connection pooler refuses a startup parameter of the DSN (such as options=...): remove it "
     "from the DSN (the suite sets its own bounds in each transaction) or add it to the pooler's "
     "ignore_startup_parameters"),
    (("no such database", "tenant or user not found"),
     "pooler", True, "the connection pooler does not know the DSN's database (or user): name a database of its "
     "[databases] section (Supavisor: the user as user.project-ref)"),
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

    phase: str  # configuration | dns | pooler | tcp | tls | authentication | startup | connect | first query
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


# --- one rule for a route's failure, whichever check judges it -----------------------------------------

_ROUTE_CONDITIONS = {  # (layer, critical) -> condition
    ("site", True): "route_down",  # Partial system outage (SEV2); all user-facing down: complete outage
    ("site", False): "route_feature_failure",  # Non-critical feature failures (SEV3)
    ("browser", True): "home_no_events",  # Partial system outage (SEV2)
    ("browser", False): "feature_failure",  # Non-critical feature failures (SEV3)
}


def route_condition(target: Any, route: str, layer: str) -> str:
    """The condition of a route that fails (does not answer, answers an error, renders nothing): a critical
    route (``critical_routes``, default the home page) is a partial outage (SEV2), any other route a
    non-critical feature failure (SEV3); ``layer`` is "site" (HTTP) or "browser"."""
    return _ROUTE_CONDITIONS[(layer, target.route_is_critical(route))]


# --- ingestion job runs ----------------------------------------------------------------------------------

# a run in progress says nothing yet: the finished ones before it count
JOB_IN_PROGRESS = frozenset({"running", "pending", "queued", "started", "in_progress", "in progress", "scheduled"})


def job_run_failed(status: Any, failure_statuses: tuple[str, ...]) -> bool:
    """A run failed when its status is one of the configured failure words (any case): any other word
    ("success", "completed", "ok", "done", "partial") is not a failure, so a schema needs no configuration."""
    return str(status or "").strip().lower() in {s.strip().lower() for s in failure_statuses}


def job_in_progress(status: Any) -> bool:
    return str(status or "").strip().lower() in JOB_IN_PROGRESS


def job_error_text(run: Any, error_column: str | None = None) -> str:
    """A job run's error text: the configured column, else the first non-empty column named like *error*."""
    if not isinstance(run, dict):
        return ""
    if error_column:
        value = run.get(error_column)
        return _one_line(value) if value else ""
    for key, value in run.items():
        if "error" in str(key).lower() and value:
            return _one_line(value)
    return ""


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("message") or value.get("msg") or value
    return " ".join(str(value).split())[:300]
