"""The TLS certificate check (a limit added as a user adds one: the check, its condition, this test): the HTTP
probe reads the certificate from the exchange itself, also one it does not accept; an expired certificate is
its own finding (SEV1), one expiring within thresholds.tls_expiry_days (14) a SEV4; plain HTTP: not applicable."""

from __future__ import annotations

import importlib.util
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scenescout_ir.core.config import Thresholds, Timeouts, load_target
from scenescout_ir.core.outcomes import Finding
from scenescout_ir.probes.http import HttpProbe, _evidence
from scenescout_ir.pytest_plugin.fixtures import Site
from tests.demo_support import _state_dir, run_suite

FAST = Timeouts(connect_s=2.0, read_s=2.0, statement_s=1.0, dns_s=1.0)
CA_CONFIG = """[ca]
default_ca = stand_in
[stand_in]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
organizationName = optional
"""


def certificate(directory: Path, not_after: datetime) -> Path:
    """A self-signed certificate for 127.0.0.1 valid until ``not_after`` (in the past too, which ``openssl req``
    refuses), its key in the same PEM file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(CA_CONFIG)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)

    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "key.pem", "-subj", "/CN=127.0.0.1/O=Stand-in", "-addext", "subjectAltName=IP:127.0.0.1",
            "-out", "req.csr")
    start = min(not_after, datetime.now(UTC)) - timedelta(days=30)
    openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "key.pem", "-in", "req.csr",
            "-out", "cert.pem", "-notext", "-startdate", f"{start:%Y%m%d%H%M%SZ}",
            "-enddate", f"{not_after:%Y%m%d%H%M%SZ}")
    pem = directory / "site.pem"
    pem.write_text((directory / "cert.pem").read_text() + (directory / "key.pem").read_text())
    return pem


class HttpsSite:
    """An HTTPS server on 127.0.0.1 answering 200 "ok" on every path with the given certificate; counts the TLS
    connections it accepted."""

    def __init__(self, pem: Path) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        site = self
        self.connections = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def get_request(self) -> Any:
                sock, address = super().get_request()
                site.connections += 1
                return context.wrap_socket(sock, server_side=True), address

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client refusing the certificate ends the handshake: what some tests want

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def https_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[timedelta], HttpsSite]]:
    """``https_site(valid_for)`` -> a started HTTPS site whose certificate expires ``valid_for`` from now
    (negative: expired), trusted by this process as a CA would be (REQUESTS_CA_BUNDLE)."""
    if shutil.which("openssl") is None:  # Debian installs it with ca-certificates; a test that cannot run fails
        pytest.fail("openssl is not installed: apt-get install openssl (it makes the test sites' certificates)",
                    pytrace=False)
    sites: list[HttpsSite] = []

    def start(valid_for: timedelta) -> HttpsSite:
        pem = certificate(tmp_path / f"cert{len(sites)}", datetime.now(UTC).replace(microsecond=0) + valid_for)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))
        sites.append(HttpsSite(pem))
        return sites[-1]

    yield start
    for site in sites:
        site.close()


def probe() -> HttpProbe:
    return HttpProbe(FAST, lambda e: None, Thresholds())


def _check_of(module_path: str, name: str) -> Callable[..., None]:
    """A check function of checks/ or scenarios/, loaded from its file (those dirs are not packages)."""
    path = Path(__file__).parents[2] / module_path
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)  # type: ignore[no-any-return]


def the_check() -> Callable[..., None]:
    return _check_of("checks/test_site.py", "test_tls_certificate_not_expiring")


def target_with(tmp_path: Path, url: str, thresholds: str = ""):  # noqa: ANN201
    (tmp_path / "targets.toml").write_text(f'[targets.t]\nbase_url = "{url}/"\n[targets.t.thresholds]\n{thresholds}\n')
    return load_target(tmp_path / "targets.toml", "t")


# --- the probe -------------------------------------------------------------------------------------------------


def test_an_https_exchange_records_the_certificate_without_another_connection(https_site):
    site = https_site(timedelta(days=365))
    result = probe().get(site.url + "/")
    assert result.ok and result.tls is not None, result.describe()
    assert 364 < result.tls.days_left() <= 365
    assert result.tls.subject == "CN=127.0.0.1, O=Stand-in" and result.tls.issuer == result.tls.subject
    assert site.connections == 1  # read from the exchange's own socket
    evidence = _evidence(result)
    assert evidence.data["tls"]["subject"] == "CN=127.0.0.1, O=Stand-in"
    assert "TLS certificate valid until" in evidence.text


def test_a_certificate_that_is_not_accepted_is_still_read_and_named_in_the_error(https_site, monkeypatch):
    site = https_site(timedelta(days=-3))
    result = probe().get(site.url + "/")
    assert result.status is None and result.tls is not None and -4 < result.tls.days_left() < -2
    assert result.error.startswith("TLS certificate not accepted: certificate has expired (valid until ")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # not trusted at all: self-signed, and still read
    untrusted = probe().get(site.url + "/")
    assert "TLS certificate not accepted" in untrusted.error and untrusted.tls == result.tls
    assert "\n" not in untrusted.error


def test_plain_http_has_no_certificate(stand_in_site):
    assert probe().get(stand_in_site({}).url + "/").tls is None


# --- the check -------------------------------------------------------------------------------------------------


def test_a_certificate_valid_past_the_limit_passes(https_site, tmp_path):
    site = https_site(timedelta(days=365))
    target = target_with(tmp_path, site.url)
    the_check()(Site(target.base_url, probe(), target), target)


def test_a_certificate_expiring_within_the_limit_is_a_finding_with_the_days_and_the_limit(https_site, tmp_path):
    site = https_site(timedelta(days=3))
    target = target_with(tmp_path, site.url)
    with pytest.raises(AssertionError) as excinfo:
        the_check()(Site(target.base_url, probe(), target), target)
    assert not isinstance(excinfo.value, Finding)  # the check's own condition: tls_certificate_expiring (SEV4)
    message = str(excinfo.value)
    assert message.startswith("the TLS certificate of 127.0.0.1 expires in 3.0 days") and "(limit: 14 days)" in message
    assert "subject CN=127.0.0.1, O=Stand-in" in message and "\n" not in message


def test_the_limit_is_set_in_targets_toml(https_site, tmp_path):
    site = https_site(timedelta(days=30))
    the_check()(Site(site.url, probe(), target := target_with(tmp_path, site.url)), target)  # 30 > 14: fine
    strict = target_with(tmp_path, site.url, "tls_expiry_days = 45")
    with pytest.raises(AssertionError, match=r"expires in 30\.0 days \(limit: 45 days\)"):
        the_check()(Site(site.url, probe(), strict), strict)


def test_plain_http_is_not_applicable(stand_in_site, tmp_path):
    url = stand_in_site({}).url
    target = target_with(tmp_path, url)
    with pytest.raises(pytest.skip.Exception, match="not applicable: .* is plain HTTP"):
        the_check()(Site(target.base_url, probe(), target), target)


def test_an_expired_certificate_is_a_sev1_finding_not_a_site_down(https_site):
    """Through the real run: the expired certificate is the finding, with the playbook's next step."""
    site = https_site(timedelta(days=-2))
    rundir = _state_dir("tls")
    try:
        (rundir / "targets.toml").write_text(
            f'[targets.t]\nbase_url = "{site.url}/"\ndsn_env = "SCENESCOUT_TEST_UNSET_DSN"\nhost_checks = false\n'
            "logs = []\n")
        run = run_suite("-m", "comprehensive or emergency", "-k",
                        "test_tls_certificate_not_expiring or test_site_reachable or test_health_endpoint",
                        "--target", "t", targets=rundir / "targets.toml", workdir=rundir)  # trusting the stand-in
        findings = run.findings("test_tls_certificate_not_expiring")
        assert run.severity == "SEV1" and len(findings) == 1, run.output
        assert findings[0]["condition_key"] == "tls_certificate_expired", findings
        assert "the TLS certificate of 127.0.0.1 expired 2.0 days ago" in findings[0]["summary"]
        # the site checks say the same, not "SITE DOWN" (whose next step would be to restart the app)
        assert {f["condition_key"] for f in run.findings()} == {"tls_certificate_expired"}, run.output
        counts = run.verdict["counts"]
        assert counts["failed"] == counts["total"] == run.verdict["planned"] > 1, run.output  # each check says it
        assert "Renew it" in findings[0]["next_step"]
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def test_the_site_checks_name_an_expired_certificate_not_an_outage(https_site):
    """The emergency checks (which do not include the certificate check) see the same: a request refused for an
    expired certificate is tls_certificate_expired (renew it), not a partial outage (restart the app)."""
    from scenescout_ir.judge.response_times import check_slow

    site = https_site(timedelta(days=-1))
    result = probe().get(site.url + "/health")
    with pytest.raises(Finding) as excinfo:
        check_slow(result, Thresholds())
    assert excinfo.value.condition == "tls_certificate_expired"
    assert str(excinfo.value).startswith("/health: TLS certificate not accepted: certificate has expired (valid until")
    fine = https_site(timedelta(days=365))
    check_slow(probe().get(fine.url + "/health"), Thresholds())  # a good certificate: nothing to say


def the_scenario() -> Callable[..., None]:
    return _check_of("scenarios/test_site_down.py", "test_tls_certificate_is_valid")


@pytest.mark.parametrize(("valid_for", "condition"), [
    (timedelta(days=-2), "tls_certificate_expired"), (timedelta(days=3), "tls_certificate_expiring"),
])
def test_scenario_1_judges_the_certificate_as_the_check_does(https_site, tmp_path, valid_for, condition):
    """One symptom, one severity: Scenario 1's TLS layer uses the check's conditions and limit (it had its own
    handshake, a 7-day limit and partial_outage for a certificate the check calls a SEV4)."""
    site = https_site(valid_for)
    target = target_with(tmp_path, site.url)
    with pytest.raises(Finding) as excinfo:
        the_scenario()(Site(target.base_url, probe(), target), target)
    assert excinfo.value.condition == condition
    fine = https_site(timedelta(days=365))
    healthy = target_with(tmp_path, fine.url)
    the_scenario()(Site(healthy.base_url, probe(), healthy), healthy)


def test_scenario_1_fails_a_handshake_with_a_certificate_nobody_trusts_as_an_outage(https_site, tmp_path,
                                                                                     monkeypatch):
    """What a real deployment may present and the demo never does: a valid, unexpired certificate that no client
    trusts (self-signed, another host's): browsers refuse the site, so the layer fails with the handshake's
    reason, whatever the expiry date says."""
    site = https_site(timedelta(days=365))
    target = target_with(tmp_path, site.url)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # the stand-in's CA is no longer trusted
    with pytest.raises(AssertionError) as excinfo:
        the_scenario()(Site(target.base_url, probe(), target), target)
    assert not isinstance(excinfo.value, Finding)  # the scenario's own condition: complete_outage
    assert str(excinfo.value).startswith("TLS handshake with 127.0.0.1 fails: TLS certificate not accepted")
