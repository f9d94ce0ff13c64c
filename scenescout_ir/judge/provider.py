"""Judging what the Supabase provider says (scenescout_ir/probes/supabase.py asks it): plain functions of its answers.

Three outcomes kept apart, as everywhere in the suite: the provider reports a problem of the project (a finding
that names the provider, not the app); the provider API cannot be used by the suite (a token refused: the
component ``supabase`` is NOT CHECKED; its own 429 or 5xx: those checks could not run, named); nothing to ask
(no project or no token configured: not applicable, with the key to set).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scenescout_ir.core.config import Target
from scenescout_ir.core.outcomes import Blind, CouldNotRun
from scenescout_ir.core.signatures import signature

COMPONENT = "supabase"  # the blind component when the suite's token is refused
HEALTHY_PROJECT = "ACTIVE_HEALTHY"
# what each project status means for the people using the app, and what the on-call engineer does about it
PROJECT_STATUSES: dict[str, str] = {
    "INACTIVE": "paused (a free-tier project pauses after inactivity): restore it in the Supabase dashboard "
                "(Project > Restore project); restarting the app does not help",
    "PAUSING": "being paused: restore it in the Supabase dashboard once it is paused",
    "PAUSE_FAILED": "its pause failed: restore it in the dashboard, else open a ticket with Supabase support",
    "COMING_UP": "starting (after a restore or a restart): wait for ACTIVE_HEALTHY, then re-run the suite",
    "RESTORING": "being restored from a backup: wait for ACTIVE_HEALTHY; follow it in the dashboard",
    "RESTORE_FAILED": "its restore failed: open a ticket with Supabase support (dashboard > Support)",
    "RESTARTING": "restarting: wait for ACTIVE_HEALTHY, then re-run the suite",
    "UPGRADING": "being upgraded (Postgres version): wait for ACTIVE_HEALTHY; follow it in the dashboard",
    "RESIZING": "being resized (compute or disk): wait for ACTIVE_HEALTHY",
    "GOING_DOWN": "shutting down: find who paused or deleted it (the organization's audit log)",
    "REMOVED": "removed: find who deleted it (the organization's audit log); restore from a backup",
    "INIT_FAILED": "failed to initialise: open a ticket with Supabase support",
    "ACTIVE_UNHEALTHY": "running but unhealthy: see the services' health and the provider's status page",
    "UNKNOWN": "in an unknown state: check the dashboard and the provider's status page",
}
# status-page component names that, in Statuspage's words, mean the provider works as usual
_OPERATIONAL = "operational"


def expected_functions(target: Target) -> dict[str, str]:
    """The ingestion edge functions to look for, by the id their checks get: a source's name when the function
    is the source's (``meetup`` -> ``ingest_meetup``), else the function's own slug."""
    configured = target.supabase.functions
    if not configured:
        return {s.name: f"{target.integrity.job_prefix}{s.name}" for s in target.sources}
    out = {}
    for slug in configured:
        source = next((s.name for s in target.sources if s.name in slug), slug)
        out[source] = slug
    return out


# --- the provider API's own failures ----------------------------------------------------------------------


def usable(answer: Any, target: Target) -> Any:
    """The answer's JSON, or the reason the suite could not use the provider API (raised)."""
    s = target.supabase
    status, what = answer.status, answer.what
    asked = answer.describe()
    if status in (401, 403):
        raise Blind(COMPONENT, (
            f"the Supabase Management API refused the token in {s.token_env} ({asked}: {_message(answer)}): "
            f"a rotated, expired or wrong token, or one without access to project {s.project_ref}; the suite's "
            f"own credentials, not an incident: export a valid token in {s.token_env} (a personal access token "
            f"of a member with read access; targets.{target.name}.supabase.token_env)"))
    if status == 404 and what == "project":
        raise Blind(COMPONENT, (
            f"the Supabase Management API knows no project {s.project_ref} for this token ({asked}): a wrong "
            f"project ref or a token of another account: fix targets.{target.name}.supabase.project_ref"))
    if status == 429:
        retry = answer.header("Retry-After")
        raise CouldNotRun(
            f"the Supabase Management API rate-limits the suite ({asked}"
            f"{f', Retry-After: {retry} s' if retry else ''}): the provider API's limit, not an incident; "
            f"run again after that (not checked: {what})")
    if status is None:
        raise CouldNotRun(f"the Supabase Management API did not answer ({asked}): not checked: {what} "
                          f"(the provider's API, not the project: see its status page)")
    if status >= 500:
        raise CouldNotRun(f"the Supabase Management API failed ({asked}: {_message(answer)}): the provider API's "
                          f"own error, not this project's; not checked: {what}")
    if status >= 400:
        raise CouldNotRun(f"the Supabase Management API refused the {what} query ({asked}: {_message(answer)})")
    data = answer.data()
    if data is None:
        raise CouldNotRun(f"the Supabase Management API's {what} is not JSON ({asked}): not checked")
    return data


def _message(answer: Any) -> str:
    data = answer.data()
    if isinstance(data, dict):
        for key in ("message", "error", "msg"):
            if isinstance(data.get(key), str):
                return data[key][:200]
            if isinstance(data.get(key), dict) and isinstance(data[key].get("message"), str):
                return str(data[key]["message"])[:200]
    return " ".join(answer.result.body.split())[:200] or "no body"


def _shape(data: Any, kind: type, what: str) -> Any:
    if not isinstance(data, kind):
        raise CouldNotRun(f"the Supabase Management API's {what} has an unexpected shape "
                          f"({type(data).__name__}, expected {kind.__name__}): not checked")
    return data


# --- project and services -----------------------------------------------------------------------------------


def project_problem(project: Any) -> str | None:
    """``project abc is INACTIVE: paused (...)`` or None when it is ACTIVE_HEALTHY."""
    project = _shape(project, dict, "project")
    status = str(project.get("status") or "UNKNOWN")
    if status == HEALTHY_PROJECT:
        return None
    name = project.get("name") or project.get("ref") or "the project"
    meaning = PROJECT_STATUSES.get(status, PROJECT_STATUSES["UNKNOWN"])
    return f"Supabase project {name} ({project.get('ref', '?')}, {project.get('region', '?')}) is {status}: {meaning}"


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    status: str
    error: str = ""

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY_PROJECT

    def describe(self) -> str:
        return f"{self.name} {self.status}" + (f" ({self.error})" if self.error else "")


def services(health: Any) -> list[ServiceHealth]:
    out = []
    for item in _shape(health, list, "service health"):
        if not isinstance(item, dict) or "name" not in item:
            continue
        status = item.get("status") or ("ACTIVE_HEALTHY" if item.get("healthy") else "UNHEALTHY")
        out.append(ServiceHealth(str(item["name"]), str(status), str(item.get("error") or "")[:200]))
    return out


# --- edge functions -----------------------------------------------------------------------------------------


def function_problem(functions: Any, slug: str) -> str | None:
    """Why the ingestion function ``slug`` cannot run (missing, REMOVED, THROTTLED), or None when it is ACTIVE."""
    listed = {str(f.get("slug")): f for f in _shape(functions, list, "functions list") if isinstance(f, dict)}
    found = listed.get(slug)
    if found is None:
        others = ", ".join(sorted(listed)) or "none"
        return f"edge function {slug} is not deployed (supabase functions list has: {others})"
    status = str(found.get("status"))
    if status == "ACTIVE":
        return None
    what = {"REMOVED": "removed", "THROTTLED": "throttled by the provider (its invocations are refused)"}
    return f"edge function {slug} is {status}: {what.get(status, 'not active')} (version {found.get('version', '?')})"


def function_ids(functions: Any) -> dict[str, str]:
    """Function id -> slug (the logs name a function by its id)."""
    return {str(f.get("id")): str(f.get("slug")) for f in _shape(functions, list, "functions list")
            if isinstance(f, dict)}


@dataclass(frozen=True)
class FunctionErrors:
    slug: str
    lines: int  # log rows of the function in the window
    errors: list[tuple[str, str]] = field(default_factory=list)  # (time, message), newest first

    @property
    def signatures(self) -> list[tuple[str, int]]:
        return Counter(signature(message) for _, message in self.errors).most_common(10)


_ERROR_LEVELS = {"error", "fatal", "critical", "panic"}


def rows(data: Any) -> list[dict[str, Any]]:
    """The result rows of a log query (``{"result": [...], "error": null}``); its own error is the suite's."""
    data = _shape(data, dict, "log query answer")
    if data.get("error"):
        error = data["error"]
        text = error.get("message") if isinstance(error, dict) else error
        raise CouldNotRun(f"the Supabase log query failed: {str(text)[:300]}")
    return [r for r in (data.get("result") or []) if isinstance(r, dict)]


def function_errors(log_rows: Iterable[Mapping[str, Any]], ids: Mapping[str, str], slug: str) -> FunctionErrors:
    """The error rows of the function ``slug`` among the function logs, newest first."""
    lines, errors = 0, []
    for row in log_rows:
        if ids.get(str(row.get("function_id"))) != slug and row.get("function_id") != slug:
            continue
        lines += 1
        if str(row.get("severity_text") or "").lower() in _ERROR_LEVELS:
            errors.append((when(row.get("timestamp")), " ".join(str(row.get("event_message", "")).split())))
    return FunctionErrors(slug, lines, errors)


def when(value: Any) -> str:
    """A log row's timestamp (microseconds since the epoch, or ClickHouse's text) as ``2026-12-02 21:14:03 UTC``."""
    if isinstance(value, int | float):
        seconds = value / 1_000_000 if value > 1e12 else value
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = str(value or "?")
    match = re.match(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})", text)
    return f"{match.group(1)} {match.group(2)} UTC" if match else text


def error_rate(log_rows: Iterable[Mapping[str, Any]], path_prefix: str) -> tuple[int, int]:
    """(5xx answers, requests) among the API gateway's rows whose path starts with ``path_prefix``."""
    errors = total = 0
    for row in log_rows:
        if not str(row.get("path") or "").startswith(path_prefix):
            continue
        total += 1
        try:
            errors += int(row.get("status_code") or 0) >= 500
        except (TypeError, ValueError):
            continue
    return errors, total


# --- the status page ----------------------------------------------------------------------------------------


def status_context(summary: Any, region: str | None) -> list[str]:
    """The open incidents and degraded components of Statuspage's summary.json that concern ``region`` (or that
    name no region: provider-wide), one line each."""
    summary = _shape(summary, dict, "status page")
    region_l = (region or "").lower()

    def concerns(text: str) -> bool:
        return not region_l or region_l in text.lower() or not _names_a_region(text)

    out = []
    for incident in summary.get("incidents") or []:
        if not isinstance(incident, dict) or incident.get("status") in ("resolved", "postmortem"):
            continue
        names = [str(c.get("name")) for c in incident.get("components") or [] if isinstance(c, dict)]
        text = f"{incident.get('name', '?')} {' '.join(names)}"
        if concerns(text):
            impact = incident.get("impact", "?")
            out.append(f"Supabase status page: incident '{incident.get('name', '?')}' ({incident.get('status')}, "
                       f"impact {impact}{'; ' + ', '.join(names) if names else ''})")
    for component in summary.get("components") or []:
        if not isinstance(component, dict) or component.get("status") in (_OPERATIONAL, None):
            continue
        name = str(component.get("name"))
        if concerns(name):
            out.append(f"Supabase status page: {name} is {str(component.get('status')).replace('_', ' ')}")
    return out


_REGION = re.compile(r"\b[a-z]{2}-[a-z]+-\d\b|\b(?:us|eu|ap|sa|ca|me|af)[- ](?:east|west|central|north|south|"
                     r"southeast|northeast)\b", re.I)


def _names_a_region(text: str) -> bool:
    return bool(_REGION.search(text))


PROVIDER_SIDE = ("provider", "database", "api", "function")  # components the provider's incident may explain


def context_of(records: Iterable[Any]) -> list[str]:
    """The provider's status lines the status-page check kept (never a finding of their own)."""
    out: list[str] = []
    for record in records:
        for ev in getattr(record, "evidence", None) or []:
            if ev.get("kind") == "provider_status":
                out += [str(line) for line in (ev.get("data") or {}).get("lines", [])]
    return list(dict.fromkeys(out))


def with_context(cause: dict[str, Any], context: list[str]) -> dict[str, Any]:
    """A probable cause on the provider's side (the project, the database, the API, a function) says what the
    provider's status page reports, when it reports something."""
    if not context or str(cause.get("component", "")).split(":")[0] not in PROVIDER_SIDE:
        return cause
    more = f" (+{len(context) - 1} more)" if len(context) > 1 else ""
    return {**cause, "finding": f"{cause['finding']}; meanwhile {context[0]}{more}"}


# --- advisors -------------------------------------------------------------------------------------------------


def lints(data: Any) -> list[dict[str, Any]]:
    """The advisor's lints of level ERROR or WARN (INFO is advice, not a finding), worst first."""
    data = _shape(data, dict, "advisors")
    order = {"ERROR": 0, "WARN": 1}
    found = [lint for lint in data.get("lints") or [] if isinstance(lint, dict) and lint.get("level") in order]
    return sorted(found, key=lambda lint: (order[str(lint.get("level"))], str(lint.get("name"))))
