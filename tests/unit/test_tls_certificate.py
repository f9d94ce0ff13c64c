"""The TLS certificate check (a limit added as a user adds one: the check, its condition, this test): the HTTP
probe reads the certificate from the exchange itself, also one it does not accept; an expired certificate is
its own finding (SEV1), one expiring within thresholds.tls_expiry_days (14) a SEV4; plain HTTP: not applicable."""

from __future__ import annotations

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

from scenescout_ir.config import Thresholds, Timeouts
from scenescout_ir.probes.http import HttpProbe, _evidence

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
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
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
