"""Scenario 3 "Check API health for each source", and the critical components users depend on.

`curl -I "https://api.ticketmaster.com/discovery/v2/events.json?apikey=[key]&size=1"` per source, with the
key from the environment (never shown: the target's secrets include every api_key_env value, and the
redactor scrubs them from the URL in the evidence), bounded by the target's timeouts. A rate limit (429)
and an API that fails or hangs are different next steps in the playbook, so they are different findings.
"""

from __future__ import annotations

import pytest

from scenescout_ir.core.outcomes import Finding
from scenescout_ir.judge.health import health_answer_problem, unhealthy_fields
from scenescout_ir.probes.http import upstream_request

pytestmark = pytest.mark.comprehensive


@pytest.mark.playbook(
    'curl -I "https://api.ticketmaster.com/discovery/v2/events.json?apikey=[key]&size=1"',
    'curl -I "https://www.eventbriteapi.com/v3/events/search/?token=[token]"',
    "node scripts/monitoring/check-api-limits.js",
)
@pytest.mark.condition("upstream_down")
def test_upstream_api(upstream_http, http, target, source):
    """Scenario 3: the source's vendor API answers, is not rate limiting us, and answers in time."""
    if not source.upstream_url:
        pytest.skip(f"no upstream_url configured for {source.name} (targets.{target.name}.sources.{source.name})")
    base_url = target.resolve_base_url() if source.upstream_url.startswith("/") else ""
    url, headers = upstream_request(source, base_url)
    known = http.host_down(url)  # the site's own host, when the demo's stand-in APIs live on it
    if known:
        raise Finding("upstream_down", f"{source.name}: the API's host does not answer: {known}")
    result = upstream_http.get(url, headers=headers)
    if result.status == 429:
        retry = result.headers.get("Retry-After")
        raise Finding("upstream_rate_limited", (
            f"{source.name}: the API rate-limits us: {result.describe()}"
            + (f" (Retry-After: {retry} s)" if retry else "")
        ))
    assert result.ok, f"{source.name}: the API fails: {result.describe()}"


def _component_health(http, url: str, what: str) -> None:
    result = http.get(url)
    problems = unhealthy_fields(result.json())
    detail = f" ({', '.join(problems)})" if problems else ""
    assert result.ok, f"{what} health fails: {result.describe()}{detail}"
    problem = health_answer_problem(result)
    assert not problem, f"{what} health fails: it {problem} ({result.describe()})"
    assert not problems, f"{what} health answers {result.status} but reports itself unhealthy{detail}"


@pytest.mark.condition("auth_failure")
def test_auth_health(http, target):
    """Severity 2 "Authentication issues": the auth provider's health endpoint (target.auth_health_url)."""
    if not target.auth_health_url:
        pytest.skip(f"no auth_health_url configured for target {target.name}: authentication not checked")
    _component_health(http, target.auth_health_url, "authentication")


@pytest.mark.condition("payment_failure")
def test_payment_health(http, target):
    """Severity 1 "Payment system failure": the payment provider's health endpoint (target.payment_health_url)."""
    if not target.payment_health_url:
        pytest.skip(f"no payment_health_url configured for target {target.name}: payments not checked")
    _component_health(http, target.payment_health_url, "payment")
