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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .conditions import CONDITIONS, Severity

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
    "provider_project_down": "provider", "provider_service_unhealthy": "provider",
    "provider_service_degraded": "provider", "function_missing": "function:*", "function_errors": "function:*",
    "advisor_lints": "advisors",
}

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
