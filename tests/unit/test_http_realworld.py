"""The HTTP probe and site checks against deployments the suite has never seen (issue 8, items 1-4, 12):
URLs used as written, slow told from down, bodies that trickle, health endpoints that answer the wrong
thing, redirects, and findings that read in one line. Every server is a local stand-in (tests/servers.py)."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenescout_ir.core.config import Browser, Thresholds, Timeouts, load_targets
from scenescout_ir.core.outcomes import Finding
from scenescout_ir.judge.health import health_answer_problem
from scenescout_ir.judge.response_times import check_response_time, check_slow
from scenescout_ir.probes.browser import BrowserSession, PageProbe
from scenescout_ir.probes.http import HttpProbe, HttpResult, _evidence, join_url, short_url
from scenescout_ir.pytest_plugin.browser_fixtures import chromium_executable
from scenescout_ir.pytest_plugin.fixtures import Site
from tests.demo_support import _state_dir, run_suite
from tests.servers import Reply

FAST = Timeouts(connect_s=1.0, read_s=0.3, statement_s=1.0, dns_s=1.0)
# lines scaled down so a test takes fractions of a second: SLO 0.2 s, SEV2 line 0.5 s, first read 2.5 s
LINES = Thresholds(response_slo_s=0.2, response_sev2_s=0.5)
OK_JSON = Reply(200, b'{"status": "ok"}')


@pytest.fixture
def rundir() -> Iterator[Path]:
    """A directory for a suite run inside the project (a targets file elsewhere moves pytest's rootdir)."""
    path = _state_dir("http")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def probe(thresholds: Thresholds | None = LINES, timeouts: Timeouts = FAST) -> HttpProbe:
    return HttpProbe(timeouts, lambda e: None, thresholds)


# --- 1. URLs exactly as written -------------------------------------------------------------------------


def test_the_config_loader_keeps_every_url_as_written(tmp_path):
    (tmp_path / "targets.toml").write_text(
        '[targets.t]\nbase_url = "https://x.example/app/"\nauth_health_url = "https://auth.example/health/"\n'
        'backend_origins = ["https://api.example/"]\n'
        '[targets.t.sources]\neventbrite = { upstream_url = "https://www.eventbriteapi.com/v3/users/me/" }\n'
    )
    target = load_targets(tmp_path / "targets.toml")["t"]
    assert target.base_url == "https://x.example/app/"
    assert target.auth_health_url == "https://auth.example/health/"
    assert target.sources[0].upstream_url == "https://www.eventbriteapi.com/v3/users/me/"
    assert target.with_base_url("https://y.example/").base_url == "https://y.example/"


@pytest.mark.parametrize(("base", "path", "url"), [
    ("https://x/app/", "/health", "https://x/app/health"),
    ("https://x/app", "/health", "https://x/app/health"),
    ("https://x", "/health", "https://x/health"),
    ("https://x/", "/", "https://x/"),
    ("https://x", "/", "https://x/"),
    ("https://x/app/", "/v3/users/me/", "https://x/app/v3/users/me/"),
])
def test_the_site_joins_base_url_and_path_without_doubling_or_losing_a_slash(base, path, url):
    assert join_url(base, path) == url



def test_the_site_fixture_requests_paths_under_a_base_url_with_a_trailing_slash(stand_in_site):
    server = stand_in_site({"/app/health": OK_JSON, "/app/": Reply(200, b"ok", "text/plain")})
    site = Site(server.url + "/app/", probe())
    assert site.get("/health").status == 200 and site.get("/").status == 200
    assert server.requests == ["/app/health", "/app/"]

def test_a_vendor_url_with_its_trailing_slash_is_requested_as_written(stand_in_site, rundir):
    """Eventbrite's /v3/users/me/ answers 404 without its slash: a healthy API must not read as failed."""
    vendor = stand_in_site({"/v3/users/me": Reply(404, b'{"error": "NOT_FOUND"}'),
                            "/v3/users/me/": Reply(200, b'{"id": "1"}')})
    site = stand_in_site({"/": Reply(200, b"<html><main></main></html>", "text/html")})
    targets = write_targets(rundir, site.url, f'eventbrite = {{ upstream_url = "{vendor.url}/v3/users/me/" }}')
    run = run_suite("-m", "comprehensive", "-k", "test_upstream_api", "--target", "t",
                    targets=targets, workdir=rundir)
    assert vendor.requests == ["/v3/users/me/"], run.output
    assert run.findings() == [], run.output


# --- 2. slow is not down --------------------------------------------------------------------------------


def test_a_host_slower_than_the_sev2_line_is_waited_for_once_then_told_slow_at_once(stand_in_site):
    site = stand_in_site(default=Reply(200, b'{"status": "ok"}', delay_s=0.7))
    http = probe()
    first = http.get(site.url + "/")
    assert first.status == 200 and first.elapsed_s >= 0.7  # the first request waits past the 0.5 s line
    with pytest.raises(Finding) as slow:
        check_response_time(first, LINES)
    assert slow.value.condition == "significant_degradation"
    started = time.monotonic()
    later = http.get(site.url + "/health")
    assert time.monotonic() - started < 0.2 and site.requests == ["/"]  # told at once, not asked
    assert later.slow_s == pytest.approx(first.elapsed_s) and http.host_down(site.url) is None
    with pytest.raises(Finding) as told:
        check_slow(later, LINES)
    assert told.value.condition == "significant_degradation"
    assert re.match(r"SLOW: /health: this host took 0\.\d s to answer GET /, over the 0\.5 s line", str(told.value))


def test_a_later_timeout_on_a_host_known_to_answer_slowly_is_slow_not_down(stand_in_site):
    site = stand_in_site(default=Reply(200, b'{"status": "ok"}', delay_s=0.4))  # over the SLO, under the line
    http = probe(Thresholds(response_slo_s=0.2, response_sev2_s=1.5))  # a line far from 0.4 s, even under load
    assert http.get(site.url + "/").status == 200  # first: waited for
    later = http.get(site.url + "/health")  # normal read timeout (0.3 s): runs out
    assert later.status is None and later.slow_s == pytest.approx(0.3)
    assert "slow, not down" in (later.error or "") and http.host_down(site.url) is None
    with pytest.raises(Finding) as told:
        check_slow(later, LINES)
    assert told.value.condition == "slow_site"


@pytest.mark.slow  # waits out a real deadline (about 2 s)
def test_a_host_that_never_answers_is_down_after_the_first_long_wait(silent_server):
    http = probe(Thresholds(response_slo_s=0.2, response_sev2_s=0.3))  # first read: 0.3 s + 1.5 s
    started = time.monotonic()
    first = http.get(f"http://127.0.0.1:{silent_server}/")
    assert 1.7 < time.monotonic() - started < 5 and first.status is None and first.slow_s is None
    later = http.get(f"http://127.0.0.1:{silent_server}/health")
    assert "not asked again" in (later.error or "") and later.slow_s is None
    check_slow(later, LINES)  # no slow finding: not answering is an outage


# --- 3. a total deadline per exchange -------------------------------------------------------------------


@pytest.mark.slow  # waits out a real deadline (about 2 s)
def test_a_trickling_body_stops_at_the_total_deadline_and_the_host_counts_as_not_answering(stand_in_site):
    """One byte every 0.3 s for 100 bytes would take 30 s, each byte well within the read timeout (0.8 s):
    connect 1 s + read 0.8 s is the whole exchange's deadline."""
    site = stand_in_site({"/health": Reply(200, b'{"status": "ok"}' + b" " * 84, trickle_s=0.3)})
    http = probe(None, Timeouts(connect_s=1.0, read_s=0.8))
    started = time.monotonic()
    result = http.get(site.url + "/health")
    assert time.monotonic() - started < 5
    assert not result.ok and result.error and result.error.startswith("body still arriving after 1.")
    assert "not asked again" in (http.get(site.url + "/").error or "")


def test_a_body_that_stalls_is_cut_at_the_read_timeout(stand_in_site):
    site = stand_in_site({"/health": Reply(200, b'{"status": "ok"}' + b" " * 84, trickle_s=30)})
    result = HttpProbe(Timeouts(connect_s=5, read_s=0.3), lambda e: None).get(site.url + "/health")
    assert not result.ok and result.error and result.error.startswith("body stalled: no data for 0.3 s")


# --- 4. what a health endpoint says ---------------------------------------------------------------------


NGINX = b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>...</body></html>"
HEALTH = {
    "/html": Reply(200, NGINX, "text/html"),
    "/unlabelled-html": Reply(200, NGINX, None),
    "/badjson": Reply(200, b'{"status": "ok"', "application/json"),
    "/loop": Reply(302, b"", None, location="/loop2"),
    "/loop2": Reply(302, b"", None, location="/loop"),
    "/cut": Reply(200, b'{"status": "o', "application/json", declared_length=100),
    "/bad-text": Reply(200, b"unhealthy: database down", "text/plain"),
    # healthy ones
    "/json": Reply(200, b'{"status": "ok", "database": "up"}'),
    "/text": Reply(200, b"OK", "text/plain"),
    "/empty": Reply(200, b"", None),
    "/moved": Reply(301, b"", None, location="/json"),
}


@pytest.mark.parametrize(("path", "problem"), [
    ("/html", "answers an HTML page ('Welcome to nginx!'), not a health status"),
    ("/unlabelled-html", "answers an HTML page ('Welcome to nginx!'), not a health status"),
    ("/badjson", "answers invalid JSON"),
    ("/bad-text", "says 'unhealthy'"),
    ("/json", None), ("/text", None), ("/empty", None), ("/moved", None),
])
def test_a_health_answer_is_judged_by_what_it_says(stand_in_site, path, problem):
    result = probe().get(stand_in_site(HEALTH).url + path)
    assert result.ok, result.describe()
    found = health_answer_problem(result)
    assert (found or "").startswith(problem or "") and (found is None) == (problem is None), found


def test_a_redirect_loop_is_not_an_answer(stand_in_site):
    result = probe().get(stand_in_site(HEALTH).url + "/loop")
    assert not result.ok and result.error == "redirect loop: /loop -> /loop2 -> /loop"
    assert result.describe() == "GET /loop (redirected to /loop2) -> 302, redirect loop: /loop -> /loop2 -> /loop"


def test_redirects_are_followed_a_bounded_number_of_times(stand_in_site):
    chain = {f"/r{i}": Reply(302, b"", None, location=f"/r{i + 1}") for i in range(10)}
    result = probe().get(stand_in_site(chain).url + "/r0")
    assert not result.ok and result.error == "more than 5 redirects (last to /r6)"


def test_a_redirect_is_judged_where_it_ends(stand_in_site):
    site = stand_in_site({"/": Reply(302, b"", None, location="/home"), "/home": Reply(503, b"down", "text/plain")})
    result = probe().get(site.url + "/")
    assert result.status == 503 and result.final_url == site.url + "/home" and not result.ok


def test_a_body_cut_off_before_its_content_length_is_not_an_answer(stand_in_site):
    result = probe().get(stand_in_site(HEALTH).url + "/cut")
    assert not result.ok and result.error == "body cut off: 13 of 100 bytes"


def test_the_health_check_fails_each_broken_answer_and_passes_the_healthy_ones(stand_in_site, rundir):
    """Through the real check, as the on-call engineer runs it: each broken answer is a finding that says why."""
    site = stand_in_site({**HEALTH, "/": Reply(302, b"", None, location="/home"),
                          "/home": Reply(200, b"<html><main></main></html>", "text/html")})
    endpoints = ["/html", "/badjson", "/loop", "/cut", "/json", "/text", "/empty", "/moved"]
    targets = write_targets(rundir, site.url, health_endpoints=endpoints)
    run = run_suite("-k", "test_health_endpoint or test_site_reachable", "--target", "t",
                    targets=targets, workdir=rundir)
    failed = {f["check"]: f["summary"] for f in run.findings()}
    assert set(failed) == {f"test_health_endpoint[{p}]" for p in ("/html", "/badjson", "/loop", "/cut")}, run.output
    assert "answers an HTML page ('Welcome to nginx!')" in failed["test_health_endpoint[/html]"]
    assert "answers invalid JSON" in failed["test_health_endpoint[/badjson]"]
    assert "redirect loop" in failed["test_health_endpoint[/loop]"]
    assert "body cut off: 13 of 100 bytes" in failed["test_health_endpoint[/cut]"]
    assert run.severity == "SEV2", run.output


# --- 12. one-line findings ------------------------------------------------------------------------------


def test_a_url_reads_decoded_and_shortened_and_stays_whole_in_the_evidence():
    url = ("https://abc.example.co/rest/v1/events?select=id%2Ctitle%2Cvenue%28name%2Ccity%29%2Cstarts_at"
           "&category=eq.music&apikey=secret-value")
    result = HttpResult("GET", url, 500, 0.1)
    assert result.describe() == "GET /rest/v1/events?select=…&category=eq.music&apikey=… -> 500 in 0.10 s"
    assert short_url("https://x/caf%C3%A9%20bar?q=rock%20music") == "/café bar?q=rock music"
    evidence = _evidence(result)  # the evidence keeps the whole URL
    assert evidence.data["url"] == url and url in evidence.text


# --- helpers --------------------------------------------------------------------------------------------


def write_targets(directory: Path, base_url: str, sources: str = "", **keys: object) -> Path:
    """A targets file for a deployment at ``base_url`` with no database (its DSN variable is unset) and no
    host or log checks: what is left is the HTTP side."""
    import json

    lines = ["[targets.t]", f'base_url = "{base_url}"', 'dsn_env = "SCENESCOUT_TEST_UNSET_DSN"',
             "host_checks = false", "logs = []", *(f"{k} = {json.dumps(v)}" for k, v in keys.items())]
    if sources:
        lines += ["[targets.t.sources]", sources]
    path = directory / "targets.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- 2. the emergency verdict under a slow and a hung site, as the on-call engineer runs it ---------------


@pytest.mark.slow  # waits out the playbook's 10 s line, as a real run must
def test_emergency_under_a_site_answering_in_10_5_s_is_sev2_not_an_outage(stand_in_site, rundir):
    site = stand_in_site(default=Reply(200, b'{"status": "ok"}', delay_s=10.5))
    started = time.monotonic()
    run = run_suite("--target", "t", targets=write_targets(rundir, site.url), workdir=rundir, timeout=60)
    assert time.monotonic() - started < 25, "the run waited out every request instead of the first"
    assert run.severity == "SEV2", run.output
    conditions = {f["condition_key"] for f in run.findings()}
    assert conditions == {"significant_degradation"}, run.output
    # the session's requests start together, each asked once; nothing after them waits on the slow host again
    assert sorted(site.requests) == ["/", "/api/health", "/health"], run.output


@pytest.mark.slow  # waits out the playbook's 10 s line, as a real run must
def test_emergency_under_a_site_that_never_answers_is_sev1(silent_server, rundir):
    started = time.monotonic()
    run = run_suite("--target", "t", targets=write_targets(rundir, f"http://127.0.0.1:{silent_server}"),
                    workdir=rundir, timeout=60)
    assert time.monotonic() - started < 25, "every check waited out its own timeout"
    assert run.severity == "SEV1", run.output
    assert any(f["condition_key"] == "complete_outage" for f in run.findings()), run.output



@pytest.mark.slow  # waits out the playbook's 10 s line, as a real run must
def test_emergency_under_a_site_trickling_its_bodies_ends_at_one_deadline(stand_in_site, rundir):
    """One byte a second: each check used to wait out pytest-timeout (60 s); now the first exchange stops at
    its deadline (3 s + 11.5 s) and the host counts as not answering for the rest."""
    site = stand_in_site(default=Reply(200, b'{"status": "ok"}' + b" " * 200, trickle_s=1.0))
    started = time.monotonic()
    run = run_suite("--target", "t", targets=write_targets(rundir, site.url), workdir=rundir, timeout=90)
    # each check waiting out its own pytest-timeout would take minutes; a loaded machine may add seconds to 15 s
    assert time.monotonic() - started < 45, "the trickling bodies were waited for"
    assert run.severity == "SEV1", run.output
    (first,) = run.findings("test_site_reachable")
    assert re.search(r"body still arriving after 14\.\d s", first["summary"]), run.output  # 3 s + 11.5 s
    assert sorted(site.requests) == ["/", "/api/health", "/health"], run.output  # together, once each

# --- 3. the browser's page loads have the same deadline ----------------------------------------------------


@pytest.fixture(scope="module")
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=chromium_executable(), args=["--disable-gpu"])
    yield browser
    browser.close()


def test_a_page_whose_body_trickles_is_cut_at_the_navigation_deadline_and_not_asked_again(chromium, stand_in_site):
    page = b"<!doctype html><html><head><title>t</title></head><body><main>" + b" " * 200 + b"</main></body></html>"
    site = stand_in_site({"/": Reply(200, page, "text/html", trickle_s=0.2)})  # 54 s in full
    session = BrowserSession()
    visits = []
    started = time.monotonic()
    for _ in range(2):
        context = chromium.new_context()
        visits.append(PageProbe(context.new_page, site.url, Browser(navigation_timeout_s=1), (), session,
                                lambda e: None).visit("/"))
        context.close()
    assert time.monotonic() - started < 10
    first, second = visits
    assert first.timed_out and first.error == "page body still arriving after 1 s"
    assert second.error is not None and second.error.endswith("(not asked again)")


def test_a_compressed_health_answer_is_read_decoded(stand_in_site):
    """requests asks for gzip; a real server (nginx's gzip on) compresses JSON: it is judged decoded."""
    import gzip

    body = b'{"status": "ok", "database": "up"}'
    site = stand_in_site({"/health": Reply(body=gzip.compress(body), encoding="gzip")})
    probe = HttpProbe(Timeouts(), lambda e: None, Thresholds())
    result = probe.get(site.url + "/health")
    assert result.ok and result.body == body.decode() and result.json() == {"status": "ok", "database": "up"}
    assert health_answer_problem(result) is None


def test_prefetched_requests_are_sent_at_once_asked_once_and_recorded_by_the_check_that_reads_them(stand_in_site):
    """Time to verdict = the slowest probe: the session's GETs start together (issue 11)."""
    from tests.demo_support import wait_for

    site = stand_in_site({}, default=Reply(200, b"ok", "text/plain", delay_s=1.5))
    recorded = []
    probe = HttpProbe(Timeouts(), recorded.append, Thresholds())
    paths = ("/", "/health", "/api/health")
    probe.prefetch([(site.url + p, {}) for p in paths])
    # one after another, the second would arrive after the first's 1.5 s: all three are there before that
    wait_for(lambda: len(site.requests) == 3, "the three requests to arrive together", timeout=1.3)
    assert recorded == []  # nothing is evidence until a check reads it
    results = [probe.get(site.url + p) for p in paths]
    assert all(r.ok and r.body == "ok" for r in results)
    assert len(site.requests) == 3 and probe.requests_made == 3  # not asked again
    assert [e.data["url"] for e in recorded] == [site.url + p for p in paths]
    probe.get(site.url + "/")  # a second read of the same URL asks anew
    assert len(site.requests) == 4


@pytest.mark.slow  # waits out the suite's 3 s connect timeout, as a real run must
def test_emergency_with_a_hung_database_behind_a_site_reporting_it_up_is_database_down(stand_in_site, silent_server,
                                                                                    rundir):
    """The database port accepts connections and never answers (hung, or a pooler out of connections), while the
    app's health, on its already open connections, still says its database is up: DATABASE DOWN (SEV2), not the
    suite's DSN (SEV4), which is kept for a port where nothing answers at all (tests/demo: a wrong port)."""
    site = stand_in_site(default=Reply(200, b'{"status": "ok", "database": "up"}', "application/json"))
    dsn = f"postgresql://oncall:secret@127.0.0.1:{silent_server}/scenescout"
    targets = write_targets(rundir, site.url)
    targets.write_text(targets.read_text().replace("SCENESCOUT_TEST_UNSET_DSN", "SCENESCOUT_TEST_HUNG_DSN"))
    run = run_suite("--target", "t", targets=targets, workdir=rundir, env={"SCENESCOUT_TEST_HUNG_DSN": dsn},
                    timeout=60)
    assert run.severity == "SEV2", run.output
    (finding,) = run.findings("test_database_connectivity")
    assert finding["condition_key"] == "database_connection", finding
    assert '"phase": "startup"' in json.dumps(finding["evidence"]), finding["evidence"]
