"""The provider checks' fixtures (checks/test_provider.py): the Supabase probe, opened once per run, its requests
started with the session's other independent probes, and the ingestion functions as a parametrized axis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from scenescout_ir.core.config import Target
from scenescout_ir.judge.provider import expected_functions
from scenescout_ir.probes.supabase import SupabaseProbe
from scenescout_ir.pytest_plugin.plugin import is_check, suite

BUDGET_MARGIN_S = 2.0  # what the rest of the run needs after the provider's answers
MIN_READ_S = 0.5

# what each provider check asks (SupabaseProbe.requests), started together when the session starts
ASKS: dict[str, tuple[str, ...]] = {
    "test_provider_project_status": ("project",),
    "test_provider_services_healthy": ("health",),
    "test_ingestion_function": ("functions",),
    "test_ingestion_function_errors": ("functions", "function logs"),
    "test_api_error_rates": ("API logs",),
    "test_provider_status_page": ("project", "status page"),
    "test_performance_advisors": ("performance advisors",),
    "test_security_advisors": ("security advisors",),
}


@pytest.fixture(scope="session")
def supabase(pytestconfig: pytest.Config, target: Target) -> Iterator[SupabaseProbe]:
    """The project's Management API; not applicable (with the key to set) when no project or no token is set."""
    settings = target.supabase
    where = f"targets.{target.name}.supabase"
    if not settings.project_ref:
        pytest.skip(f"not applicable: no Supabase project configured ({where}.project_ref)")
    token = target.env(settings.token_env)
    if not token:
        pytest.skip(f"not applicable: {settings.token_env} is not set (the Supabase access token the provider "
                    f"checks read with; {where}.token_env)")
    probe = _probe(pytestconfig, target, token)
    yield probe
    probe.close()


@pytest.fixture(scope="session")
def supabase_status(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
                    target: Target) -> Iterator[SupabaseProbe]:
    """The provider's public status page: read with or without a token (the region then comes from
    targets.X.supabase.region, or from the project when the token is there)."""
    settings = target.supabase
    if not settings.project_ref:
        pytest.skip(f"not applicable: no Supabase project configured (targets.{target.name}.supabase.project_ref)")
    if not settings.status_url:
        pytest.skip(f"not applicable: no status page configured (targets.{target.name}.supabase.status_url)")
    if target.env(settings.token_env):  # the same probe as the other provider checks: one request each
        yield request.getfixturevalue("supabase")
        return
    probe = _probe(pytestconfig, target, "")
    yield probe
    probe.close()


def _probe(pytestconfig: pytest.Config, target: Target, token: str) -> SupabaseProbe:
    """A hung Management API never holds the verdict past the run's budget: its read timeout is cut to what is
    left of the budget (less a margin for the rest of the run) when the budget is the shorter."""
    run = suite(pytestconfig)
    timeouts = target.timeouts
    left = round(run.clock.left() - timeouts.connect_s - BUDGET_MARGIN_S, 1)
    if left < timeouts.read_s:
        timeouts = replace(timeouts, read_s=max(MIN_READ_S, left))
    probe = SupabaseProbe(target.supabase, token, timeouts, run.evidence, target.thresholds.log_window_s)
    run.footprint.probes.append(probe)
    return probe


@pytest.fixture(scope="session", autouse=True)
def _provider_probes_start_at_once(request: pytest.FixtureRequest) -> None:
    """The provider's requests start with the session's other probes: a hung Management API costs one read
    timeout, once, in parallel with everything else."""
    checks = [item for item in request.session.items if is_check(item)]
    which = {ask for item in checks for ask in ASKS.get(getattr(item, "originalname", item.name), ())
             if {"supabase", "supabase_status"} & set(getattr(item, "fixturenames", ()))}
    if not which:
        return
    for name in ("supabase", "supabase_status"):
        try:
            probe = request.getfixturevalue(name)
        except pytest.skip.Exception:
            continue  # each check says why
        probe.prefetch(which)  # a token-less probe asks only the status page
        return


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ingestion_function" not in metafunc.fixturenames:
        return
    target = suite(metafunc.config).target
    functions = expected_functions(target)
    if not target.supabase.project_ref:  # one "not applicable" per check, not one per source
        reason = f"not applicable: no Supabase project configured (targets.{target.name}.supabase.project_ref)"
        metafunc.parametrize("ingestion_function", [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                             ids=["no Supabase project"])
        return
    if not functions:
        reason = (f"not applicable: no ingestion functions (targets.{target.name}.supabase.functions, or "
                  f"sources to derive them from)")
        metafunc.parametrize("ingestion_function", [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                             ids=["no functions"])
        return
    metafunc.parametrize("ingestion_function", list(functions.values()), ids=list(functions))
