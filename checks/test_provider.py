"""The hosting provider (a Supabase project): is it us or the provider, and which edge function fails with what.

Each check asks the project's Management API (read-only, bounded, started with the session's other probes;
scenescout_ir/probes/supabase.py) and judges the answer with scenescout_ir/judge/provider.py. A token the API refuses
makes the component ``supabase`` NOT CHECKED (exit 6); the API's own 429 or 5xx makes these checks "could not
run"; no project or no token configured makes them "not applicable" with the key to set.
"""

import pytest

from scenescout_ir.core.outcomes import Finding
from scenescout_ir.judge import provider


@pytest.mark.emergency
@pytest.mark.condition("provider_project_down")
def test_provider_project_status(supabase, target):
    """GET /v1/projects/{ref}: the project is ACTIVE_HEALTHY (not paused, restoring, coming up...)."""
    project = provider.usable(supabase.ask("project"), target)
    problem = provider.project_problem(project)
    assert problem is None, problem


@pytest.mark.emergency
@pytest.mark.condition("provider_service_unhealthy")
def test_provider_services_healthy(supabase, target):
    """GET /v1/projects/{ref}/health: every service the app needs (db, rest, pooler) is ACTIVE_HEALTHY."""
    services = provider.services(provider.usable(supabase.ask("health"), target))
    critical = set(target.supabase.critical_services)
    down = [s for s in services if not s.healthy and s.name in critical]
    other = [s for s in services if not s.healthy and s.name not in critical]
    fine = ", ".join(s.name for s in services if s.healthy) or "none"
    if down:
        raise Finding("provider_service_unhealthy", (
            f"Supabase reports {', '.join(s.describe() for s in down)} for project {target.supabase.project_ref} "
            f"(healthy: {fine}): the provider's side, not the app"))
    if other:
        raise Finding("provider_service_degraded", (
            f"Supabase reports {', '.join(s.describe() for s in other)} for project {target.supabase.project_ref} "
            f"(healthy: {fine})"))


@pytest.mark.emergency
@pytest.mark.playbook("supabase functions list")
@pytest.mark.condition("function_missing")
def test_ingestion_function(supabase, target, ingestion_function):
    """supabase functions list: the ingestion function is deployed and ACTIVE."""
    functions = provider.usable(supabase.ask("functions"), target)
    problem = provider.function_problem(functions, ingestion_function)
    assert problem is None, problem


@pytest.mark.emergency
@pytest.mark.playbook(
    "supabase functions logs --limit 20",
    "supabase functions logs ingest_ticketmaster --limit 50",
    "supabase functions logs ingest_eventbrite --limit 50",
)
@pytest.mark.condition("function_errors")
def test_ingestion_function_errors(supabase, target, ingestion_function):
    """supabase functions logs <name>: the function's errors in the recent window, counted by message."""
    ids = provider.function_ids(provider.usable(supabase.ask("functions"), target))
    rows = provider.rows(provider.usable(supabase.ask("function logs"), target))
    seen = provider.function_errors(rows, ids, ingestion_function)
    supabase.note_errors(seen, len(rows))  # the error patterns, for the fingerprint's "new since healthy"
    limit = target.thresholds.limit("function_min_errors")
    minutes = supabase.window_s / 60
    latest = f"; latest ({seen.errors[0][0]}): {seen.errors[0][1][:160]}" if seen.errors else ""
    assert len(seen.errors) < limit, (
        f"{ingestion_function}: {len(seen.errors)} errors in {seen.lines} log lines of the last {minutes:g} min "
        f"(limit: {limit:g}){latest}")


@pytest.mark.emergency
@pytest.mark.condition("api_error_rate")
def test_api_error_rates(supabase, target):
    """The API gateway's logs: the share of 5xx answers of the data API (/rest/v1) and of Auth (/auth/v1)."""
    rows = provider.rows(provider.usable(supabase.ask("API logs"), target))
    ratio_limit = target.thresholds.limit("api_error_ratio")
    at_least = target.thresholds.limit("api_min_requests")
    over = []
    for name, prefix in (("PostgREST", "/rest/v1"), ("Auth", "/auth/v1")):
        errors, total = provider.error_rate(rows, prefix)
        if total >= at_least and errors / total >= ratio_limit:
            over.append(f"{name}: {errors} of {total} requests answered 5xx ({errors / total:.0%})")
    assert not over, (f"{'; '.join(over)} in the last {supabase.window_s / 60:g} min (limit: {ratio_limit:.0%} of "
                      f"at least {at_least:g} requests)")


@pytest.mark.emergency
def test_provider_status_page(supabase_status, target):
    """status.supabase.com: an open incident or a degraded component in the project's region is context for the
    verdict and its probable cause; it never makes a run red by itself (read without the token too)."""
    supabase = supabase_status
    region = target.supabase.region
    if not region and supabase.has_token:
        try:
            region = str(provider.usable(supabase.ask("project"), target).get("region") or "") or None
        except Exception:  # noqa: BLE001 - the project check says why; the status page is still worth reading
            region = None
    answer = supabase.ask("status page")
    if answer.status != 200:
        pytest.skip(f"could not run: the provider's status page did not answer as expected ({answer.describe()})")
    summary = answer.data()
    if not isinstance(summary, dict):
        pytest.skip(f"could not run: the provider's status page is not Statuspage JSON ({answer.describe()})")
    supabase.note_status(provider.status_context(summary, region), region)


@pytest.mark.performance
@pytest.mark.condition("advisor_lints")
def test_performance_advisors(supabase, target):
    """The project's performance advisor: no lint of level WARN or ERROR."""
    _no_lints(supabase, target, "performance advisors")


@pytest.mark.comprehensive
@pytest.mark.condition("advisor_lints")
def test_security_advisors(supabase, target):
    """The project's security advisor: no lint of level WARN or ERROR."""
    _no_lints(supabase, target, "security advisors")


def _no_lints(supabase, target, what):
    found = provider.lints(provider.usable(supabase.ask(what), target))
    described = [f"{lint.get('level')} {lint.get('title') or lint.get('name')}: {lint.get('detail', '')[:120]} "
                 f"(fix: {lint.get('remediation', '?')})" for lint in found[:5]]
    assert not found, f"Supabase's {what} report {len(found)} lints: " + "; ".join(described)
