"""`pytest -m comprehensive` against the demo stack, in real Chromium: the healthy stack gives OK, and each
check of the Resolution and Recovery run fails on the fault it targets, with the playbook's severity.

Fault runs select the checks they are about with -k (a full comprehensive run costs a browser run each);
the healthy run and the hanging-app run go through everything the marker selects.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixtures.demo.faults import SOURCES
from tests.demo_support import prove, run_suite, targets_file

pytestmark = pytest.mark.timeout(300)

UPSTREAMS = {s: {"upstream_url": f"/upstream/{s}/events"} for s in SOURCES}
ROUTES = ("/", "/discover", "/map", "/venues")
MY_CHECKS = {
    *(f"test_route_answers[{r}]" for r in ROUTES),
    *(f"test_page_renders_events[{r}]" for r in ROUTES),
    *(f"test_no_console_or_request_errors[{r}]" for r in ROUTES),
    *(f"test_no_broken_images[{r}]" for r in ROUTES),
    "test_navigation_links_work",
    "test_database_not_in_recovery", "test_every_public_table_is_readable", "test_no_data_loss_since_baseline",
    "test_no_duplicate_events", "test_no_source_disabled",
    *(f"test_ingestion_recovered[{s}]" for s in SOURCES),
    *(f"test_latest_job_run_succeeded[{s}]" for s in SOURCES),
    *(f"test_upstream_api[{s}]" for s in SOURCES),
}


def targets(workdir: Path, stack, name: str, **kwargs) -> Path:
    """The demo target with its stand-in upstream APIs and a baseline file of this test's own."""
    sections = {"integrity": {"baseline_file": str(workdir / f"baseline-{name}.json")}, **kwargs.pop("sections", {})}
    return targets_file(workdir, stack.info().state_dir, sources=kwargs.pop("sources", UPSTREAMS), sections=sections,
                        **kwargs)


def comprehensive(*args: str, targets: Path, workdir: Path, **kwargs):
    return run_suite("-m", "comprehensive", *args, targets=targets, workdir=workdir, **kwargs)


def junit_cases(path: Path) -> dict[str, str]:
    """test name -> passed | failed | skipped, from the JUnit XML the CI gate writes."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcomes[case.get("name", "")] = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        )
    return outcomes


def finding(run, check: str) -> dict:
    (found,) = [f for f in run.findings() if f["check"] == check]
    return found


# --- the healthy stack --------------------------------------------------------------------------------


def test_a_healthy_stack_gives_ok_and_every_comprehensive_check_passes(healthy_stack, workdir):
    where = targets(workdir, healthy_stack, "healthy")
    baseline = workdir / "baseline-healthy.json"
    baseline.unlink(missing_ok=True)
    junit = workdir / "junit-healthy.xml"
    run = comprehensive("--junitxml", str(junit), targets=where, workdir=workdir)
    assert run.severity == "OK", run.output
    assert run.exit_code == 0
    counts = run.verdict["counts"]
    assert counts["failed"] == counts["could_not_run"] == counts["broken"] == 0, run.output
    not_applicable = {c["check"]: c["reason"] for c in run.verdict["not_applicable"]}
    assert "no auth_health_url configured" in not_applicable["test_auth_health"]
    assert "no payment_health_url configured" in not_applicable["test_payment_health"]
    cases = junit_cases(junit)
    assert {name: cases.get(name) for name in MY_CHECKS} == dict.fromkeys(MY_CHECKS, "passed")
    assert cases["test_site_reachable"] == "passed"  # the emergency checks run too
    # no baseline yet: the data-loss check passes, writes one and says so in its evidence
    counts_saved = json.loads(baseline.read_text())["targets"]["demo"]["counts"]
    assert counts_saved["public.events"] >= 4000 and "public.job_runs" in counts_saved
    attachments = (workdir / "allure-results").glob("*-attachment.txt")  # the evidence of passed checks
    assert any("no baseline for target demo yet" in a.read_text() for a in attachments)
    assert not (workdir / "browser").exists()  # screenshots and traces are for failures only


# --- the browser ------------------------------------------------------------------------------------


def test_a_truncated_bundle_is_no_events_on_home_with_the_syntax_error_a_screenshot_and_a_trace(
    healthy_stack, workdir
):
    healthy_stack.inject("script_broken")
    run = comprehensive("-k", "test_browser", targets=targets(workdir, healthy_stack, "browser"), workdir=workdir)
    assert run.severity == "SEV2" and run.exit_code == 1, run.output
    prove("script_broken", run)
    home = finding(run, "test_page_renders_events[/]")
    assert home["condition"] == "Partial system outage"
    assert "0 cards with content (.event-card)" in home["summary"] and "SyntaxError" in home["summary"]
    assert {f["check"] for f in run.findings()} >= {
        f"test_no_console_or_request_errors[{r}]" for r in ROUTES
    } | {f"test_page_renders_events[{r}]" for r in ROUTES[1:]}
    artifacts = next(e["data"] for e in home["evidence"] if "screenshot" in e["data"])
    assert Path(artifacts["screenshot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(artifacts["trace"]).stat().st_size > 0
    assert Path(artifacts["screenshot"]).parent == workdir / "browser" / "test_page_renders_events-home"
    assert "test_navigation_links_work" not in {f["check"] for f in run.findings()}  # the links still work


def test_a_secondary_route_answering_500_is_one_sev3_from_the_http_and_the_browser_checks(healthy_stack, workdir):
    healthy_stack.inject("route_500", route="/map")
    run = comprehensive("-k", "test_browser or route_answers", targets=targets(workdir, healthy_stack, "browser"),
                        workdir=workdir)
    assert run.severity == "SEV3", run.output  # the same symptom, one severity (critical_routes: "/" only)
    prove("route_500", run)
    route = finding(run, "test_route_answers[/map]")
    assert (route["condition"], route["severity"]) == ("Non-critical feature failures", "SEV3")
    page = finding(run, "test_page_renders_events[/map]")
    assert (page["condition"], page["severity"]) == ("Non-critical feature failures", "SEV3")
    assert {f["severity"] for f in run.findings()} == {"SEV3"}, run.output
    assert "/map: did not load: HTTP 500" in page["summary"]
    assert "/map is failing: GET /map -> 500" in route["summary"]
    assert "'Map' (/map) -> /map 500" in finding(run, "test_navigation_links_work")["summary"]
    assert "GET /map (document) -> 500" in finding(run, "test_no_console_or_request_errors[/map]")["summary"]
    assert not any(f["check"].startswith("test_route_answers[/]") for f in run.findings())


def test_a_critical_route_answering_500_is_a_partial_outage_from_every_check(healthy_stack, workdir):
    healthy_stack.inject("route_500", route="/venues")
    where = targets(workdir, healthy_stack, "critical", keys={"critical_routes": ["/", "/venues"]})
    run = comprehensive("-k", "(test_browser and venues) or route_answers or navigation", targets=where,
                        workdir=workdir)
    assert run.severity == "SEV2", run.output
    assert {(f["check"], f["severity"], f["condition"]) for f in run.findings()} == {
        (c, "SEV2", "Partial system outage") for c in (
            "test_route_answers[/venues]", "test_page_renders_events[/venues]",
            "test_no_console_or_request_errors[/venues]", "test_navigation_links_work")}, run.output
    healthy_stack.clear()
    healthy_stack.inject("route_500", route="/")  # the home page: critical by default
    run = comprehensive("-k", "route_answers or test_page_renders_events", targets=targets(
        workdir, healthy_stack, "browser"), workdir=workdir)
    assert run.severity == "SEV2", run.output
    assert finding(run, "test_route_answers[/]")["condition_key"] == "route_down"
    assert finding(run, "test_page_renders_events[/]")["condition"] == "Partial system outage"


def test_broken_images_are_cosmetic_only_not_request_errors(healthy_stack, workdir):
    healthy_stack.inject("broken_image")
    run = comprehensive("-k", "test_no_broken_images or test_no_console_or_request_errors",
                        targets=targets(workdir, healthy_stack, "browser"), workdir=workdir)
    assert run.severity == "SEV4", run.output
    prove("broken_image", run)
    assert {f["condition_key"] for f in run.findings()} == {"cosmetic"}, run.output
    assert "24 of 24 images broken" in finding(run, "test_no_broken_images[/discover]")["summary"]
    assert "/static/img/missing/" in finding(run, "test_no_broken_images[/]")["summary"]


def test_a_hanging_app_is_waited_for_once(healthy_stack, workdir):
    """The first check to ask waits (the triage check, which runs first); every later one, each page load in
    the browser included, is told at once. (The browser's own navigation timeout: tests/unit/test_browser_probe.py.)"""
    healthy_stack.inject("app_hanging")
    where = targets(workdir, healthy_stack, "hanging", sections={"browser": {"navigation_timeout_s": 3}})
    run = comprehensive("-k", "test_browser or test_site_reachable or test_upstream_api", targets=where,
                        workdir=workdir)
    assert run.severity == "SEV1", run.output  # the site checks: complete outage
    browser = [f for f in run.findings() if f["component"] == "browser"]
    waited = [f for f in browser if "not asked again" not in f["summary"]]
    assert browser and not waited, run.output
    # every browser check selected was told at once: a finding, or could not run (none passed, none waited)
    assert run.verdict["counts"]["passed"] == 0 and run.verdict["counts"]["total"] == run.verdict["planned"], run.output
    assert "not asked again" not in finding(run, "test_site_reachable")["summary"]  # it waited, once
    assert {c["check"] for c in run.verdict["could_not_run"]} >= {f"test_no_broken_images[{r}]" for r in ROUTES}


# --- upstream APIs and critical components ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "vendor", "condition_key", "words"),
    [
        ("upstream_429", "ticketmaster", "upstream_rate_limited", "429"),
        ("upstream_hanging", "songkick", "upstream_down", "no answer within"),
    ],
)
def test_an_upstream_api_failing_is_a_single_source_failure(healthy_stack, workdir, fault, vendor, condition_key,
                                                            words):
    healthy_stack.inject(fault, source=vendor)
    run = comprehensive("-k", "test_upstream", targets=targets(workdir, healthy_stack, "upstream"), workdir=workdir)
    assert run.severity == "SEV2", run.output
    prove(fault, run, source=vendor)
    assert [f["check"] for f in run.findings()] == [f"test_upstream_api[{vendor}]"]  # the others still answer
    found = finding(run, f"test_upstream_api[{vendor}]")
    assert found["condition_key"] == condition_key and words in found["summary"]


def test_the_api_key_goes_to_the_upstream_and_never_into_the_output(healthy_stack, workdir):
    key = "tm-demo-key-5f1c9a77"
    sources = {**UPSTREAMS, "ticketmaster": {**UPSTREAMS["ticketmaster"], "api_key_env": "SCENESCOUT_TEST_TM_KEY",
                                            "api_key_param": "key"},
               "songkick": {**UPSTREAMS["songkick"], "api_key_env": "SCENESCOUT_TEST_SK_KEY"}}
    where = targets(workdir, healthy_stack, "keys", sources=sources)
    healthy_stack.inject("upstream_429", source="ticketmaster")
    run = comprehensive("-k", "test_upstream", "--junitxml", str(workdir / "junit-keys.xml"), targets=where,
                        workdir=workdir, env={"SCENESCOUT_TEST_TM_KEY": key, "SCENESCOUT_TEST_SK_KEY": ""})
    evidence = finding(run, "test_upstream_api[ticketmaster]")["evidence"]
    urls = [e["data"]["url"] for e in evidence if e["kind"] == "http"]
    assert urls == [f"{healthy_stack.info().base_url}/upstream/ticketmaster/events?key=***"]
    for text in (run.output, json.dumps(run.verdict), (workdir / "junit-keys.xml").read_text()):
        assert key not in text
    reasons = {c["check"]: c["reason"] for c in run.verdict["could_not_run"]}
    assert reasons == {"test_upstream_api[songkick]": "SCENESCOUT_TEST_SK_KEY is not set: export the songkick API key "
                                                      "to check its API"}


def test_auth_and_payment_health_are_checked_when_configured(healthy_stack, workdir):
    health = healthy_stack.info().base_url + "/api/health"
    where = targets(workdir, healthy_stack, "components",
                    keys={"auth_health_url": health, "payment_health_url": health})
    healthy = comprehensive("-k", "auth or payment", targets=where, workdir=workdir)
    assert healthy.severity == "OK" and healthy.verdict["counts"]["passed"] == 2, healthy.output
    healthy_stack.inject("api_5xx")
    run = comprehensive("-k", "auth or payment", targets=where, workdir=workdir)
    assert run.severity == "SEV1", run.output
    assert finding(run, "test_payment_health")["condition"] == "Payment system failure"
    assert finding(run, "test_auth_health")["condition"] == "Authentication issues"
    assert "authentication health fails: GET /api/health -> 500" in finding(run, "test_auth_health")["summary"]


# --- ingestion recovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "params", "severity", "check", "condition_key"),
    [
        ("source_stale", {"source": "eventbrite"}, "SEV2", "test_ingestion_recovered[eventbrite]",
         "ingestion_not_recovered"),
        ("all_sources_stale", {}, "SEV1", "all of recovery", "all_sources_stale"),
        ("job_failing", {"source": "meetup"}, "SEV2", "test_latest_job_run_succeeded[meetup]", "job_failed"),
        ("source_disabled", {"source": "meetup"}, "SEV4", "test_no_source_disabled", "source_disabled"),
    ],
)
def test_each_recovery_fault_gives_its_severity(healthy_stack, workdir, fault, params, severity, check,
                                                condition_key):
    healthy_stack.inject(fault, **params)
    run = comprehensive("-k", "test_recovery", targets=targets(workdir, healthy_stack, "recovery"), workdir=workdir)
    assert run.severity == severity, run.output
    if fault == "source_disabled":  # job_failing is proven by triage (test_ingestion_jobs.py)
        prove(fault, run)
    assert finding(run, check)["condition_key"] == condition_key


def test_a_failed_job_names_its_error_and_a_disabled_source_is_not_expected_to_ingest(healthy_stack, workdir):
    where = targets(workdir, healthy_stack, "recovery")
    healthy_stack.inject("job_failing", source="songkick")
    failing = comprehensive("-k", "test_recovery", targets=where, workdir=workdir)
    assert "ingest_songkick: latest run" in finding(failing, "test_latest_job_run_succeeded[songkick]")["summary"]
    assert "HTTP 429 Too Many Requests" in finding(failing, "test_latest_job_run_succeeded[songkick]")["summary"]
    healthy_stack.clear()
    healthy_stack.inject("source_disabled", source="meetup")
    disabled = comprehensive("-k", "test_recovery", targets=where, workdir=workdir)
    reasons = {c["check"]: c["reason"] for c in disabled.verdict["not_applicable"]}
    assert "meetup is disabled in api_configurations" in reasons["test_ingestion_recovered[meetup]"]
    assert "meetup is disabled in api_configurations" in reasons["test_latest_job_run_succeeded[meetup]"]
    assert "1 of 4 sources disabled in api_configurations: meetup (since " in finding(
        disabled, "test_no_source_disabled")["summary"]


def test_since_is_read_from_the_option(healthy_stack, workdir):
    where = targets(workdir, healthy_stack, "recovery")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    run = comprehensive("-k", "test_ingestion_recovered", "--since", future, targets=where, workdir=workdir)
    assert run.severity == "SEV1", run.output  # nothing is newer than an hour from now: no source recovered
    assert "no new events since" in finding(run, "test_ingestion_recovered[songkick]")["summary"]
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    assert comprehensive("-k", "test_ingestion_recovered", "--since", earlier, targets=where,
                         workdir=workdir).severity == "OK"
    bad = comprehensive("-k", "test_ingestion_recovered", "--since", "yesterday", targets=where, workdir=workdir)
    assert {c["reason"] for c in bad.verdict["could_not_run"]} == {
        "--since 'yesterday' is not an ISO time like 2026-05-01T14:30 or 2026-05-01T14:30:00+02:00"
    }


# --- database integrity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "severity", "check", "words"),
    [
        ("db_in_recovery", "SEV2", "test_database_not_in_recovery", "pg_is_in_recovery() = true"),
        ("events_duplicated", "SEV3", "test_no_duplicate_events",
         "5 (source, external_id) keys occur more than once in events"),
        ("table_corrupted", "SEV1", "test_every_public_table_is_readable",
         "public.demo_corrupted: DataCorrupted: invalid page in block 0"),
    ],
)
def test_each_integrity_fault_gives_its_severity(healthy_stack, workdir, fault, severity, check, words):
    healthy_stack.inject(fault)
    run = comprehensive("-k", "test_integrity", targets=targets(workdir, healthy_stack, "integrity"), workdir=workdir)
    assert run.severity == severity, run.output
    prove(fault, run)
    assert [f["check"] for f in run.findings()] == [check]
    assert words in finding(run, check)["summary"]


def test_deleted_events_are_data_loss_against_the_last_healthy_baseline(healthy_stack, workdir):
    where = targets(workdir, healthy_stack, "loss")
    baseline = workdir / "baseline-loss.json"
    baseline.unlink(missing_ok=True)
    assert comprehensive("-k", "test_integrity", targets=where, workdir=workdir).severity == "OK"
    written = json.loads(baseline.read_text())["targets"]["demo"]
    healthy_stack.inject("events_deleted", ratio=0.5)
    lost = comprehensive("-k", "test_integrity", targets=where, workdir=workdir)
    assert lost.severity == "SEV1", lost.output
    prove("events_deleted", lost)
    summary = finding(lost, "test_no_data_loss_since_baseline")["summary"]
    assert f"rows lost since the baseline of {written['taken_at']}: public.events has" in summary
    assert "limit: 20%" in summary
    assert json.loads(baseline.read_text())["targets"]["demo"] == written  # a loss never becomes the baseline
    healthy_stack.clear()
    restored = comprehensive("-k", "test_integrity", targets=where, workdir=workdir)
    assert restored.severity == "OK", restored.output
    refreshed = json.loads(baseline.read_text())["targets"]["demo"]
    assert refreshed["counts"]["public.events"] >= written["counts"]["public.events"]
