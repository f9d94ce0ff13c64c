"""The provider checks' fixtures (checks/test_provider.py): the Supabase probe, opened once per run, its requests
started with the session's other independent probes, and the ingestion functions as a parametrized axis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scenescout_ir.config import Target
from scenescout_ir.plugin import is_check, suite
from scenescout_ir.probes.supabase import SupabaseProbe
from scenescout_ir.provider import expected_functions

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
    probe = SupabaseProbe(settings, token, target.timeouts, suite(pytestconfig).evidence,
                          target.thresholds.log_window_s)
    suite(pytestconfig).probes.append(probe)
    yield probe
    probe.close()


@pytest.fixture(scope="session", autouse=True)
def _provider_probes_start_at_once(request: pytest.FixtureRequest) -> None:
    """The provider's requests start with the session's other probes: a hung Management API costs one read
    timeout, once, in parallel with everything else."""
    checks = [item for item in request.session.items if is_check(item) and "supabase" in getattr(
        item, "fixturenames", ())]
    which = {ask for item in checks for ask in ASKS.get(getattr(item, "originalname", item.name), ())}
    if not which:
        return
    try:
        probe = request.getfixturevalue("supabase")
    except pytest.skip.Exception:
        return  # each check says why
    probe.prefetch(which)


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
