"""Probable cause: which failing component best explains the others.

Every finding is placed on a component of a dependency graph (the database, the API, the pages, each
source's vendor API, ingestion job and freshness, the host, DNS, the logs). A finding whose upstream
component also failed is a symptom of it; a failing component with no failing upstream is a cause. The
evidence is read too, not only the graph: a health body saying ``database=down`` points at the database
even when the suite could not reach it itself, a 429 in a job's error points at the vendor's rate limit,
and a job failing while its source's events stay fresh points at the job, not at the vendor.

The default graph fits SceneScout; ``[targets.NAME.dependencies]`` overrides a component's upstreams
(``pages = ["api", "site", "cdn"]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from scenescout_ir.core.conditions import CONDITIONS, Severity

# component -> the components it depends on ("X:*" means the same X of every source)
DEFAULT_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "dns": (),
    "host": (),
    "provider": (),  # the hosting provider's project and services (a Supabase project: provider.py)
    "database": ("host", "dns", "provider"),
    "site": ("dns", "host"),
    "api": ("site", "database", "provider"),
    "pages": ("api", "site"),
    "auth": ("dns",),
    "payments": ("dns",),
    "vendor:*": (),
    "function:*": ("provider",),  # the source's ingestion edge function
    "job:*": ("vendor:*", "database", "function:*"),
    "freshness:*": ("job:*", "vendor:*", "database", "function:*"),
    "ingestion": ("database", "host"),
    "logs": ("host", "database", "api", "site", "pages", "job:*", "vendor:*", "ingestion"),
}

_BY_CONDITION: dict[str, str] = {
    "dns_failure": "dns",
    "complete_outage": "site",
    "slow_site": "site",
    "significant_degradation": "site",
    "route_down": "pages", "home_no_events": "pages", "feature_failure": "pages", "cosmetic": "pages",
    "browser_timing": "pages",
    "log_errors": "logs",
    "disk_space": "host", "memory": "host", "host_load": "host",
    "auth_failure": "auth", "payment_failure": "payments",
    "source_stale": "freshness:*", "ingestion_not_recovered": "freshness:*",
    "all_sources_stale": "ingestion",
    "job_failed": "job:*", "ingestion_job_failing": "job:*", "source_jobs_failing": "job:*",
    "route_feature_failure": "pages",
    "upstream_rate_limited": "vendor:*", "upstream_down": "vendor:*",
    "database_unreachable_app_up": "suite DSN",  # the app reaches its database: the suite's own path does not
    "provider_project_down": "provider", "provider_service_unhealthy": "provider",
    "provider_service_degraded": "provider", "function_missing": "function:*", "function_errors": "function:*",
    "advisor_lints": "advisors",
}

T = TypeVar("T")
_RATE_LIMITED = re.compile(r"\b429\b|too many requests|rate.?limit", re.IGNORECASE)
_DB_DOWN = re.compile(r"\b(database|db|postgres(?:ql)?)\s*[=:]\s*\"?(down|error|fail\w*|unavailable|unhealthy)",
                      re.IGNORECASE)
_PARAM = re.compile(r"\[(.+)\]$")


class FindingLike(Protocol):
    @property
    def check(self) -> str: ...
    @property
    def condition(self) -> str: ...
    @property
    def condition_key(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class ProbableCause:
    component: str
    condition: str
    severity: Severity
    finding: str  # the finding (or the evidence) that names the cause
    symptoms: list[str] = field(default_factory=list)  # the checks it explains
    inferred: bool = False  # named by evidence (a health body, an error text), not by a failing check of its own

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.name
        return data

    def line(self) -> str:
        explains = f"; explains {len(self.symptoms)}: {', '.join(self.symptoms[:6])}" if self.symptoms else ""
        more = f" +{len(self.symptoms) - 6} more" if len(self.symptoms) > 6 else ""
        return f"{self.component}: {self.condition} ({self.severity.name}) - {self.finding}{explains}{more}"


def component_of(finding: FindingLike) -> str:
    """The graph component a finding is about (``freshness:meetup``, ``api``, ``database``...)."""
    key = finding.condition_key
    param_match = _PARAM.search(finding.check)
    param = param_match.group(1) if param_match else ""
    if finding.check.startswith("all of "):
        group = finding.check.removeprefix("all of ")
        return "site" if group == "user_facing" else "ingestion"
    if key in ("partial_outage",) and finding.check.startswith("test_health_endpoint"):
        return "api" if re.search(r"api|rest|graphql", param, re.IGNORECASE) else "site"
    if key == "partial_outage":
        return "site" if finding.check.startswith("test_site") else "pages"
    cond = CONDITIONS.get(key)
    component = _BY_CONDITION.get(key) or (cond.component if cond else "unclassified")
    if component.endswith(":*"):
        return component[:-1] + (param or "?")
    if component == "ingestion" and param:
        return f"freshness:{param}"
    return component


def _upstreams(component: str, graph: Mapping[str, Sequence[str]]) -> list[str]:
    kind, _, name = component.partition(":")
    deps = graph.get(component) or (graph.get(f"{kind}:*", ()) if name else ())
    return [d.replace(":*", f":{name}") if name else d for d in deps]


def _ancestors(component: str, graph: Mapping[str, Sequence[str]], failing: set[str]) -> set[str]:
    """The failing components upstream of ``component`` through failing components only: a healthy one
    between them breaks the chain (a full disk does not explain an API error when the database is fine)."""
    seen: set[str] = set()
    todo = [u for u in _upstreams(component, graph) if u in failing]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += [u for u in _upstreams(node, graph) if u in failing]
    return seen


def graph_with(overrides: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    return {**DEFAULT_DEPENDENCIES, **{k: tuple(v) for k, v in (overrides or {}).items()}}


def probable_causes(
    findings: Iterable[FindingLike], dependencies: Mapping[str, Sequence[str]] | None = None,
    passed: Iterable[str] = (),
) -> list[ProbableCause]:
    """The causes among ``findings``, most probable first, each with the checks it explains.

    ``passed`` names the checks that passed (a source whose freshness check passed has fresh events)."""
    graph = graph_with(dependencies)
    findings = list(findings)
    passed = set(passed)
    by_component: dict[str, list[FindingLike]] = {}
    for f in findings:
        by_component.setdefault(component_of(f), []).append(f)
    inferred = _inferred(findings, by_component)
    failing = set(by_component) | set(inferred)

    causes: list[ProbableCause] = []
    for component in sorted(failing):
        if _ancestors(component, graph, failing):
            continue  # explained by a failing upstream
        symptoms = sorted(
            {f.check for other in failing if other != component and component in _ancestors(other, graph, failing)
             for f in by_component.get(other, [])}
            | {f.check for f in inferred.get(component, ("", []))[1]}
        )
        own = sorted(by_component.get(component, []), key=lambda f: f.severity)
        if own:
            lead = own[0]
            symptoms = sorted(set(symptoms) | {f.check for f in own[1:]})
            causes.append(_refined(component, lead, symptoms, passed))
        else:
            words, via = inferred[component]
            worst = min((f.severity for f in via), default=Severity.SEV3)
            cond = CONDITIONS.get(_INFERRED_CONDITION.get(component.split(":")[0], ""))
            causes.append(ProbableCause(component, cond.name if cond else component, worst, words, symptoms, True))
    def rank(cause: ProbableCause) -> tuple[int, int, str]:
        worst = min([cause.severity] + [f.severity for f in findings if f.check in cause.symptoms])
        return (int(worst), -len(cause.symptoms), cause.component)

    return sorted(causes, key=rank)


_INFERRED_CONDITION = {"database": "database_connection", "vendor": "upstream_rate_limited"}


def _inferred(
    findings: list[FindingLike], by_component: Mapping[str, list[FindingLike]]
) -> dict[str, tuple[str, list[FindingLike]]]:
    """Components the evidence names although none of their own checks failed."""
    found: dict[str, tuple[str, list[FindingLike]]] = {}
    for f in findings:
        here = component_of(f)
        match = _DB_DOWN.search(f.summary)
        if match and "database" not in by_component and here != "database":
            words, via = found.get("database", (f"{f.check} reports {match.group(0)}", []))
            found["database"] = (words, [*via, f])
        kind, _, name = here.partition(":")
        if kind in ("job", "freshness") and name and _RATE_LIMITED.search(f.summary):
            vendor = f"vendor:{name}"
            if vendor not in by_component:
                words, via = found.get(vendor, (f"{name}'s vendor API is rate-limiting us (429 in {f.check})", []))
                found[vendor] = (words, [*via, f])
    return found


def _refined(component: str, lead: FindingLike, symptoms: list[str], passed: set[str]) -> ProbableCause:
    """The cause's own words, sharpened by the evidence."""
    words = lead.summary
    kind, _, name = component.partition(":")
    if kind == "job" and any(p.startswith("test_ingestion_freshness") and p.endswith(f"[{name}]") for p in passed):
        words = f"{words} (its events are still fresh: the job's post-processing fails, not the vendor)"
    return ProbableCause(component, lead.condition, lead.severity, words, symptoms)


# --- evidence against evidence: the app reaches its database, the suite does not ----------------------------

# what only a running server says: these connection failures stay the database's, whatever the app reports
_SERVER_SAID = re.compile(r"too many (clients|connections)|remaining connection slots|shutting down|starting up|"
                          r"recovery mode|not (yet )?accepting connections", re.IGNORECASE)
_REACHED = ("startup", "first query")  # the phases of a connection a server accepted
_UP = {"up", "ok", "healthy", "connected", "available", "online", "pass", "passing", "true"}
_DATABASE_KEYS = {"database", "db", "postgres", "postgresql", "pg"}
_UP_TEXT = re.compile(r'"(?:database|db|postgres(?:ql)?|pg)"\s*:\s*(?:"(?:up|ok|healthy|connected|available|online|'
                      r'pass|passing)"|true)', re.IGNORECASE)
APP_UP_CONDITION = "database_unreachable_app_up"


def database_reported_up(body: Any, depth: int = 0) -> bool:
    """A health body naming its database up: ``{"database": "up"}``, ``{"db": {"status": "ok"}}``,
    ``{"checks": {"postgres": true}}`` (two levels deep at most)."""
    if not isinstance(body, dict):
        return False
    for key, value in body.items():
        if str(key).lower() in _DATABASE_KEYS:
            if isinstance(value, dict):
                value = next((value[k] for k in ("status", "state", "health") if k in value), None)
            if value is True or (isinstance(value, str) and value.strip().lower() in _UP):
                return True
        elif isinstance(value, dict) and depth < 1 and database_reported_up(value, depth + 1):
            return True
    return False


def _reports_database_up(evidence: Mapping[str, Any]) -> bool:
    """An HTTP exchange (the probes' evidence: request, status, headers, a blank line, the body) whose 2xx
    answer names the database up."""
    data = evidence.get("data") or {}
    if evidence.get("kind") != "http" or not isinstance(data.get("status"), int) or not 200 <= data["status"] < 300:
        return False
    body = str(evidence.get("text", "")).split("\n\n", 1)[-1].strip()
    try:
        return database_reported_up(json.loads(body))
    except ValueError:  # an excerpt cut short: the field itself still says it
        return bool(_UP_TEXT.search(body))


def _unreached(finding: Any) -> dict[str, Any] | None:
    """The suite's own connection attempt behind a database finding, when it failed to reach the server at all
    (refused, no answer to its TCP connection, dropped on the way) rather than being told something by it (no
    slots, shutting down, recovery), or reaching a server that accepted it and then hung or dropped it (the
    ``startup`` phase, or the ``first query`` that never came back): that is the database, or the pooler in front
    of it, failing new connections while the app's own, already open, still work (connection exhaustion), not a
    DSN pointing nowhere."""
    for evidence in getattr(finding, "evidence", []):
        data = evidence.get("data") or {}
        if evidence.get("kind") == "database" and data.get("ok") is False and not data.get("blind"):
            error = str(data.get("error") or "")
            return None if _SERVER_SAID.search(error) or data.get("phase") in _REACHED else dict(data)
    return None


def weigh_evidence(findings: list[T], records: Iterable[Any]) -> list[T]:
    """Findings the run's other evidence contradicts, reweighed. The suite could not reach the database (DATABASE
    DOWN, SEV2) while, in the same run, the application's own health endpoint answered 2xx naming its database
    up: the suite's DSN (or the path from this machine) is the likely cause, not the database. The finding stays,
    as *Minor configuration issues* (SEV4), saying so; the checks that need the database still could not run.
    ``records`` are the run's check records (passed ones included: a passing health check is the witness)."""
    witness = next(((str((e.get("data") or {}).get("url", "")), r.check) for r in records
                    for e in getattr(r, "evidence", []) if _reports_database_up(e)), None)
    if witness is None:
        return findings
    cond = CONDITIONS[APP_UP_CONDITION]
    out = []
    for f in findings:
        attempt = _unreached(f) if getattr(f, "condition_key", "") == "database_connection" else None
        if attempt is None:
            out.append(f)
            continue
        endpoint = str(attempt.get("endpoint") or "")
        where = endpoint.split("@")[-1].split("/")[0] or "the DSN's host:port"
        error = str(attempt.get("error") or "").splitlines()[0] if attempt.get("error") else "no connection"
        error = error.rsplit("failed: ", 1)[-1]
        url, check = witness
        summary = (f"the app's {short_path(url)} reports its database up ({check} passed), but the suite cannot reach "
                   f"the database at {where} ({error}; {attempt.get('phase')} phase): the suite's DSN ({where}) is "
                   "the likely cause, not the database")
        out.append(replace(f, condition_key=cond.key, condition=cond.name, severity=cond.severity,  # type: ignore[type-var]
                           component=cond.component, next_step=cond.next_step, section=cond.section, summary=summary))
    return sorted(out, key=lambda f: (f.severity, f.component, f.check))  # type: ignore[attr-defined]


def short_path(url: str) -> str:
    """``/api/health`` of ``http://127.0.0.1:8080/api/health`` (the whole URL when it has no path)."""
    path = urlsplit(url).path
    return path if path and path != "/" else url
