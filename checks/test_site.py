"""Initial Response: `curl -I https://scenescout.app/health` and friends, bounded and judged.

Every user-facing endpoint down together is a complete outage (SEV1); one of them, a partial outage.
"""

from urllib.parse import urlsplit

import pytest

from scenescout_ir.core.outcomes import CouldNotRun, Finding
from scenescout_ir.judge.health import health_answer_problem, unhealthy_fields
from scenescout_ir.judge.response_times import check_response_time, check_slow
from scenescout_ir.judge.routes import route_condition
from scenescout_ir.judge.tls import certificate_problem


@pytest.mark.playbook('curl -I https://scenescout.app/ || echo "SITE DOWN"')
@pytest.mark.emergency
@pytest.mark.condition("partial_outage")
def test_site_reachable(site, target):
    """curl -IL https://scenescout.app/ || echo "SITE DOWN"   (redirects followed, bounded)"""
    result = site.get("/")
    check_slow(result, target.thresholds)  # answers, slowly: not down
    assert result.ok, f"SITE DOWN: {result.describe()}"
    check_response_time(result, target.thresholds)


@pytest.mark.playbook(
    "curl -I https://scenescout.app/health",
    "curl -I https://scenescout.app/api/health",
    "./scripts/app-health-check.mjs --emergency",
)
@pytest.mark.emergency
@pytest.mark.condition("partial_outage")
def test_health_endpoint(site, target, health_endpoint):
    """curl -I https://scenescout.app/health ; curl -I https://scenescout.app/api/health"""
    result = site.get(health_endpoint)
    check_slow(result, target.thresholds)
    body = result.json()
    detail = f" ({', '.join(unhealthy_fields(body))})" if unhealthy_fields(body) else ""
    # an endpoint of another origin is named with its host: "the data API at api.example:443 (/rest/v1/)"
    name = health_endpoint if site.is_own(health_endpoint) else f"{site.who(health_endpoint)} ({health_endpoint})"
    assert result.ok, f"{name} is failing: {result.describe()}{detail}"
    problem = health_answer_problem(result)
    assert not problem, f"{name} is failing: it {problem} ({result.describe()})"
    assert not detail, f"{name} answers {result.status} but reports itself unhealthy{detail}"
    check_response_time(result, target.thresholds)


@pytest.mark.playbook("nslookup scenescout.app")
@pytest.mark.emergency
@pytest.mark.condition("dns_failure")
def test_dns_resolution(site, http):
    """nslookup scenescout.app"""
    result = http.resolve(site.host)
    assert result.addresses, f"{site.host} does not resolve: {result.error}"


@pytest.mark.playbook("npm run smoke", "./scripts/app-health-check.mjs --comprehensive")
@pytest.mark.comprehensive  # not emergency: triage asks "is the site up", verifying a fix asks "every page"
@pytest.mark.condition("route_down")
def test_route_answers(site, target, route):
    """Verify Fix: every user-facing route answers (curl -I https://scenescout.app/discover ...)"""
    result = site.get(route)
    check_slow(result, target.thresholds)
    if not result.ok:  # a critical route (critical_routes): partial outage; another one: a feature failure
        raise Finding(route_condition(target, route, "site"), f"{route} is failing: {result.describe()}")
    check_response_time(result, target.thresholds)


@pytest.mark.comprehensive  # not emergency: an expired certificate already shows as SITE DOWN with its reason
@pytest.mark.condition("tls_certificate_expiring")
def test_tls_certificate_not_expiring(site, target):
    """Verify Fix: the site's TLS certificate is valid for longer than thresholds.tls_expiry_days (14)."""
    if urlsplit(site.base_url).scheme != "https":
        pytest.skip(f"not applicable: {site.base_url} is plain HTTP (no TLS certificate)")
    result = site.get("/")
    certificate = result.tls
    if certificate is None:
        raise CouldNotRun(f"no TLS certificate to read: {result.describe()}")
    problem = certificate_problem(site.host, certificate.days_left(), target.thresholds.limit("tls_expiry_days"),
                                  certificate.describe())
    if problem is not None and problem.expired:
        raise Finding(problem.condition, problem.message)
    assert problem is None, problem.message
