"""Scenario 4: Performance Degradation - identify the slow component (./scripts/app-health-check.mjs --detailed).

One request to an endpoint that does not touch the database, one that does, and one database round trip: the
slowest layer is named. Slow statements and blocking chains are in checks/test_performance.py.
"""

import pytest

from scenescout_ir.core.outcomes import CouldNotRun, Finding
from scenescout_ir.judge.response_times import check_slow

pytestmark = pytest.mark.comprehensive


@pytest.mark.playbook("./scripts/app-health-check.mjs --detailed")
@pytest.mark.condition("slow_site")
def test_identify_the_slow_component(site, db, target):
    """./scripts/app-health-check.mjs --detailed"""
    limits = target.thresholds
    if not target.health_endpoints:
        pytest.skip(f"not applicable: no health_endpoints configured in targets.toml "
                    f"(targets.{target.name}.health_endpoints = []): no endpoint to time")
    shallow, deep = target.health_endpoints[0], target.health_endpoints[-1]
    app, api = site.get(shallow), site.get(deep)
    for result in (app, api):
        check_slow(result, limits)  # a host known to answer over the line is not asked again: say so
    for endpoint, result in ((shallow, app), (deep, api)):
        if result.status is None:  # name the host that failed: the site's own, or the data API on another origin
            see = "test_site_reachable" if site.is_own(endpoint) else f"test_health_endpoint[{endpoint}]"
            raise CouldNotRun(f"{site.who(endpoint)} does not answer ({result.error}): see {see}")
    try:
        database = db.query("ping").elapsed_s
    except CouldNotRun:
        database = None
    timings = (f"{shallow} {app.elapsed_s:.2f} s, {deep} {api.elapsed_s:.2f} s, database round trip "
               + (f"{database * 1000:.0f} ms" if database is not None else "not measured (database unreachable)"))
    slowest = max(app.elapsed_s, api.elapsed_s)
    if slowest <= limits.response_slo_s:
        return
    if app.elapsed_s > limits.response_slo_s:
        layer = f"the application itself: even {shallow}, which does not touch the database, is slow (host load, " \
                "app workers, network)"
    elif database is not None and database > limits.response_slo_s / 2:
        layer = "the database: its round trip alone is slow (pg_stat_statements, blocking queries, host)"
    else:
        layer = f"the path behind {deep} but not the database round trip: the app's queries or its connection pool"
    condition = "significant_degradation" if slowest > limits.response_sev2_s else "slow_site"
    raise Finding(condition, f"the slow layer is {layer} ({timings}; SLO {limits.response_slo_s:g} s)")
