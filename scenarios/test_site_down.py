"""Scenario 1: Complete Site Down - which layer fails: DNS, TCP, TLS, the reverse proxy, or the application.

Deep-dive after the emergency verdict says the site is down: `pytest scenarios/test_site_down.py`.
"""

from urllib.parse import urlsplit

import pytest

from scenescout_ir.core.outcomes import Finding
from scenescout_ir.judge.response_times import check_slow
from scenescout_ir.judge.tls import certificate_problem

pytestmark = pytest.mark.comprehensive

_PROXY_ERRORS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _port(base_url: str) -> int:
    parts = urlsplit(base_url)
    return parts.port or (443 if parts.scheme == "https" else 80)


@pytest.mark.playbook("curl -I [direct IP if known]")
@pytest.mark.condition("complete_outage")
def test_something_listens_on_the_site_port(site, http, net):
    """curl -I [direct IP if known]: is anything listening at each address the host resolves to?"""
    addresses = http.resolve(site.host).addresses or (site.host,)
    results = [net.tcp_connect(address, _port(site.base_url)) for address in addresses]
    failed = [r for r in results if not r.ok]
    described = "; ".join(f"{r.host}:{r.port} {r.error}" for r in failed)
    if failed and len(failed) < len(results):
        raise Finding("partial_outage", f"{len(failed)} of {len(results)} addresses fail at TCP: {described}")
    assert not failed, f"nothing answers at TCP level: {described}; the server or its load balancer is down"


@pytest.mark.condition("complete_outage")
def test_tls_certificate_is_valid(site, target):
    """What a browser checks first: a verified handshake, and a certificate that is not about to expire (the
    limit and conditions of checks/test_site.py::test_tls_certificate_not_expiring: one symptom, one severity)."""
    if urlsplit(site.base_url).scheme != "https":
        pytest.skip(f"{site.base_url} is plain HTTP: no TLS layer to check")
    result = site.get("/")
    certificate = result.tls  # read from the exchange, also when it was not accepted
    problem = None if certificate is None else certificate_problem(
        site.host, certificate.days_left(), target.thresholds.limit("tls_expiry_days"), certificate.describe())
    if problem is not None and problem.expired:
        raise Finding(problem.condition, problem.message)
    assert not (result.error or "").startswith("TLS certificate not accepted"), (
        f"TLS handshake with {site.host} fails: {result.error}")
    if problem is not None:
        raise Finding(problem.condition, problem.message)


@pytest.mark.playbook("nginx -t && systemctl status nginx")
@pytest.mark.condition("complete_outage")
def test_the_application_answers_behind_the_proxy(site, target):
    """nginx -t && systemctl status nginx: a proxy's 502/503/504 means the application behind it is down."""
    result = site.get("/")
    check_slow(result, target.thresholds)  # it answers, slowly: not down
    server = result.headers.get("Server") or result.headers.get("Via") or "the front server"
    if result.status is None:
        hung = "timeout" in (result.error or "")
        diagnosis = ("the connection opens but nothing answers over HTTP: the application (or the proxy in front of "
                     "it) is hung - check its process and restart it") if hung else \
            "no HTTP server answers: the application server (or its proxy) is down"
        pytest.fail(f"{diagnosis} ({result.error})", pytrace=False)
    assert result.status not in _PROXY_ERRORS, (
        f"{server} answers {result.status} {_PROXY_ERRORS.get(result.status, '')}: it is up but the application "
        "behind it is not; check the application server's process and logs"
    )


@pytest.mark.playbook('ps aux | grep -E "(node|npm|supabase)"', "ps aux | grep node", "systemctl status [service-name]")
@pytest.mark.condition("complete_outage")
def test_application_processes_run(target, net):
    """ps aux | grep node ; systemctl status [service-name]: on the application host only."""
    if not target.app_processes:
        pytest.skip("no app_processes configured for this target (the suite does not run on the application host)")
    missing = [m.pattern for m in net.processes(target.app_processes) if not m.pids]
    assert not missing, f"no process matches {', '.join(map(repr, missing))}: the application server is not running"
