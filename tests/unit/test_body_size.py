"""Giant health bodies (issue 15, item 5): a body over the read limit is "too large", judged as such, never
downloaded whole, never healthy and never "invalid JSON"; and raw bytes never reach the terminal. Real HTTP
servers (tests/servers.py) and a real `pytest -m emergency` run."""

from __future__ import annotations

import functools
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenescout_ir.core.config import Thresholds, Timeouts
from scenescout_ir.core.redact import Redactor, printable
from scenescout_ir.judge.health import health_answer_problem
from scenescout_ir.probes.http import HttpProbe, size_text
from tests.demo_support import _state_dir, run_suite
from tests.servers import Reply

BLOCK = b" " * 65536
HUNDRED_MB = 1526  # blocks of 64 KiB: 100.0 MB
SPACES = Reply(200, b"", "application/json", filler=BLOCK, filler_times=HUNDRED_MB)
BIG_JSON = Reply(200, b'{"status": "ok", "padding": "', "application/json", filler=b"x" * 65536,
                 filler_times=HUNDRED_MB, tail=b'"}')
ENDLESS = Reply(200, b'{"status": "ok", "padding": "', "application/json", filler=BLOCK, filler_times=-1)


@functools.cache
def bomb() -> Reply:
    """50 MB of NUL bytes, gzipped to about 50 kB."""
    return Reply(200, gzip.compress(b"\x00" * 50_000_000, compresslevel=9), "application/json", encoding="gzip")


NUL_BODY = Reply(200, b"\x00" * 1500 + b"\x1b[2J\x07", "application/json")
HEALTHY = Reply(200, b'{"status": "ok"}')


def probe() -> HttpProbe:
    return HttpProbe(Timeouts(connect_s=2, read_s=5), lambda e: None, Thresholds())


def test_a_100_mb_body_with_its_content_length_is_too_large_before_it_is_read(stand_in_site):
    site = stand_in_site({"/health": SPACES, "/json": BIG_JSON})
    spaces = probe().get(site.url + "/health")
    assert spaces.status == 200 and not spaces.ok
    assert spaces.error == "too large: 100 MB (limit 10 MB; its Content-Length, not read)"
    assert spaces.describe() == "GET /health -> 200, too large: 100 MB (limit 10 MB; its Content-Length, not read)"
    valid = probe().get(site.url + "/json")
    assert valid.error is not None and valid.error.startswith("too large: 100 MB (limit 10 MB")
    assert site.bytes_sent < 20_000_000  # what the socket buffers took before the client hung up, not 100 MB


def test_a_body_under_the_limit_is_read_whole_a_large_valid_json_is_valid(stand_in_site):
    """The old reader kept 64 KiB: a valid 1 MB health body read as "invalid JSON"."""
    site = stand_in_site({"/health": Reply(200, b'{"status": "ok", "padding": "', filler=b"x" * 65536,
                                           filler_times=16, tail=b'"}')})
    result = probe().get(site.url + "/health")
    assert result.ok and len(result.body) > 1_000_000 and result.json()["status"] == "ok"
    assert health_answer_problem(result) is None


def test_a_chunked_body_without_end_stops_at_the_limit(stand_in_site):
    site = stand_in_site({"/health": ENDLESS})
    result = probe().get(site.url + "/health")
    assert result.status == 200 and not result.ok
    assert result.error == "too large: over 10 MB (limit 10 MB; no Content-Length, read stopped at the limit)"
    assert len(result.body) <= 64 * 1024  # an excerpt is kept, not the 10 MB


def test_a_gzip_bomb_is_bounded_by_its_decompressed_size(stand_in_site):
    site = stand_in_site({"/health": bomb()})
    result = probe().get(site.url + "/health")
    assert not result.ok and result.error is not None
    assert result.error.startswith("too large: over 10 MB (limit 10 MB; decompressed from "), result.error
    assert result.error.endswith("kB read, read stopped at the limit)")


def test_a_gzip_body_still_decoding_after_its_connection_went_back_to_the_pool_is_judged_by_its_size(stand_in_site):
    """Once a gzip body's last raw byte is in, urllib3 hands the connection back to the pool while the decoded
    body is still being read; another request (a prefetch thread of the same run) may then use and close it.
    Reading on must not touch that connection's socket (it raised EBADF: "body broken off", 1 run in 6 on a
    loaded machine)."""
    import requests

    from scenescout_ir.probes import http as http_probe

    site = stand_in_site({"/health": bomb()})
    with requests.Session() as session:
        resp = session.get(site.url + "/health", stream=True, timeout=5)
        raw, read1 = resp.raw, resp.raw.read1
        released = []

        def read1_then_lose_the_connection(*args, **kwargs):
            conn = raw._connection
            chunk = read1(*args, **kwargs)
            if conn is not None and raw._connection is None and not released:  # just handed back to the pool
                released.append(conn)
                conn.close()  # as another request's close would
            return chunk

        raw.read1 = read1_then_lose_the_connection
        _, problem = http_probe._read_body(resp, 5.0, http_probe.time.monotonic() + 10, http_probe.time.monotonic())
    assert released, "the bomb's connection was never handed back while its body was read: the test proves nothing"
    assert problem is not None and problem.startswith("too large: over 10 MB (limit 10 MB; decompressed from "), problem


def test_the_limit_is_a_threshold_of_targets_toml(stand_in_site):
    site = stand_in_site({"/health": Reply(200, b'{"status": "ok", "padding": "' + b"x" * 2000 + b'"}')})
    small = HttpProbe(Timeouts(), lambda e: None, Thresholds(body_max_bytes=1000)).get(site.url + "/health")
    assert small.error == "too large: 2 kB (limit 1 kB; its Content-Length, not read)"


def test_sizes_read_in_decimal_units():
    assert [size_text(n) for n in (100_000_000, 104_857_600, 10_000_000, 51_234, 300)] == [
        "100 MB", "104.9 MB", "10 MB", "51.2 kB", "300 bytes"]


def test_raw_bytes_are_escaped_in_everything_the_suite_shows():
    assert printable("ok\x00\x00\x00 then\r\na bell\x07 \x1b[31mred\x1b[0m") == "ok\\x00×3 then\na bell\\x07 red"
    assert Redactor(["hunter22"])("password hunter22 \x00") == "password *** \\x00"
    assert printable("plain text\twith a tab\nand lines") == "plain text\twith a tab\nand lines"


# --- as the on-call engineer runs it ---------------------------------------------------------------------


@pytest.fixture
def rundir() -> Iterator[Path]:
    path = _state_dir("bodysize")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_emergency_fails_each_giant_health_body_as_too_large_and_prints_no_raw_byte(stand_in_site, rundir):
    site = stand_in_site({"/": Reply(200, b"<html><main>SceneScout</main></html>", "text/html"),
                          "/spaces": SPACES, "/json": BIG_JSON, "/endless": ENDLESS, "/bomb": bomb(),
                          "/nul": NUL_BODY, "/health": HEALTHY})
    endpoints = ["/spaces", "/json", "/endless", "/bomb", "/nul", "/health"]
    (rundir / "targets.toml").write_text("\n".join([
        "[targets.t]", f'base_url = "{site.url}"', 'dsn_env = "SCENESCOUT_TEST_UNSET_DSN"', "host_checks = false",
        "logs = []", f"health_endpoints = {endpoints!r}".replace("'", '"')]) + "\n")
    run = run_suite("-k", "test_health_endpoint or test_site_reachable", "--target", "t",
                    targets=rundir / "targets.toml", workdir=rundir)
    failed = {f["check"]: f["summary"] for f in run.findings()}
    assert set(failed) == {f"test_health_endpoint[{p}]" for p in endpoints[:-1]}, run.output
    assert "is failing: GET /spaces -> 200, too large: 100 MB (limit 10 MB" in failed["test_health_endpoint[/spaces]"]
    assert "too large: 100 MB (limit 10 MB" in failed["test_health_endpoint[/json]"]
    assert "invalid JSON" not in failed["test_health_endpoint[/json]"]
    assert "too large: over 10 MB (limit 10 MB; no Content-Length" in failed["test_health_endpoint[/endless]"]
    assert "too large: over 10 MB (limit 10 MB; decompressed from" in failed["test_health_endpoint[/bomb]"]
    assert "answers invalid JSON" in failed["test_health_endpoint[/nul]"]
    assert run.severity == "SEV2" and run.exit_code == 1
    assert "\\x00×1500" in run.output  # the NUL body is shown, escaped
    for raw in ("\x00", "\x1b", "\x07"):
        assert raw not in run.output, f"{raw!r} reached the terminal"
    verdict = (rundir / "verdict.json").read_text()
    assert "\\u0000" not in verdict and "\\u001b" not in verdict  # the kept evidence holds the escaped form
