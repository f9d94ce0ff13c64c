"""The deploy gate against the demo stack: waivers that expire, FLAKY retries, many targets in one run and
the merge of several jobs' results into one verdict and one Allure report."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.demo_support import run_suite, targets_file

pytestmark = pytest.mark.timeout(240)

TODAY = date.today()


def waived_targets(workdir, stack_dir, waivers: dict[str, dict]) -> object:
    path = targets_file(workdir, stack_dir)
    lines = ["[targets.demo.waivers]"]
    for check, spec in waivers.items():
        lines.append(json.dumps(check) + " = { " + ", ".join(
            f"{k} = {v.isoformat() if isinstance(v, date) else json.dumps(v)}" for k, v in spec.items()) + " }")
    waived = path.with_name("waived-" + path.name)
    waived.write_text(path.read_text() + "\n".join(lines) + "\n")
    return waived


def test_a_waiver_hides_a_finding_from_the_exit_code_but_not_from_the_report(healthy_stack, workdir):
    healthy_stack.inject("api_5xx")
    healthy_stack.inject("log_error_burst")
    targets = waived_targets(workdir, healthy_stack.info().state_dir, {
        "test_health_endpoint[/api/health]": {"reason": "vendor API deprecated, JIRA-7", "expires": TODAY},
        "test_recent_log_errors": {"reason": "noisy until the log rework", "expires": TODAY + timedelta(days=30)},
    })
    run = run_suite("-k", "test_health_endpoint or test_recent_log_errors", targets=targets, workdir=workdir)
    assert run.exit_code == 0, run.output
    assert run.severity == "OK"
    waived = {w["check"]: w for w in run.verdict["waived"]}
    assert waived["test_health_endpoint[/api/health]"]["reason"] == "vendor API deprecated, JIRA-7"
    assert waived["test_health_endpoint[/api/health]"]["expires"] == TODAY.isoformat()
    assert "500" in waived["test_health_endpoint[/api/health]"]["summary"]
    assert waived["test_health_endpoint[/api/health]"]["evidence"], "the waived finding keeps its evidence"
    assert run.verdict["counts"]["waived"] == len(waived) >= 2
    assert f"WAIVED SEV2 test_health_endpoint[/api/health] until {TODAY} (vendor API deprecated, JIRA-7)" in run.output
    assert "WAIVED)" in run.output.split("VERDICT: ", 1)[1].splitlines()[0]
    results = _allure_results(run.output, workdir)
    health = [r for r in results if r.get("name", "").startswith("test_health_endpoint[/api/health]")]
    assert health and health[0]["status"] == "skipped"
    assert health[0]["statusDetails"]["message"].startswith(f"WAIVED until {TODAY}: vendor API deprecated")


def test_a_waiver_stops_the_day_after_its_expiry(healthy_stack, workdir):
    healthy_stack.inject("api_5xx")
    yesterday = TODAY - timedelta(days=1)
    targets = waived_targets(workdir, healthy_stack.info().state_dir, {
        "test_health_endpoint": {"reason": "vendor API deprecated", "expires": yesterday},
    })
    run = run_suite("-k", "test_health_endpoint", targets=targets, workdir=workdir)
    assert run.exit_code == 1, run.output
    assert run.severity == "SEV2"
    assert run.verdict["waived"] == []
    finding = run.findings("test_health_endpoint[/api/health]")[0]
    assert finding["summary"].endswith(f"(waiver expired on {yesterday}: vendor API deprecated)")


@pytest.mark.parametrize(("waiver", "message"), [
    ({"test_health_endpoint": {"expires": TODAY}}, 'targets.demo.waivers."test_health_endpoint": a waiver needs '
                                                   'reason = "why it is accepted" and expires = YYYY-MM-DD'),
    ({"test_health_endpoint": {"reason": "known"}}, "it has no expires"),
    ({"test_health_endpoint": {"reason": "known", "expires": "next week"}},
     "targets.demo.waivers.test_health_endpoint.expires must be a date like 2026-12-31, got 'next week'"),
    ({"test_no_such_check": {"reason": "known", "expires": TODAY}},
     "targets.demo.waivers: 'test_no_such_check' names no check of the suite"),
    ({"test_health_endpoint[/nope]": {"reason": "known", "expires": TODAY}},
     "targets.demo.waivers: 'test_health_endpoint[/nope]' names no check of the suite"),
])
def test_a_bad_waiver_is_a_configuration_error(demo_stack, workdir, waiver, message):
    targets = waived_targets(workdir, demo_stack.info().state_dir, waiver)
    run = run_suite(targets=targets, workdir=workdir)
    assert run.exit_code == 4, run.output
    assert message in run.output
    assert "Traceback" not in run.output
    errors = [line for line in run.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, run.output


def _allure_results(output: str, workdir) -> list[dict]:
    """The Allure results of the run kept by the last run_suite in ``workdir``."""
    runs = sorted((workdir / "runs").glob("*/allure-results"), key=lambda p: p.stat().st_mtime)
    assert runs, output
    return [json.loads(p.read_text()) for p in runs[-1].glob("*-result.json")]


def test_a_check_failing_once_then_passing_is_flaky_with_both_attempts_evidence(healthy_stack, demo_targets,
                                                                                 workdir):
    healthy_stack.inject("route_500", route="/map", times=2)  # the injection's own check takes the first 500
    run = run_suite("-m", "comprehensive", "-k", "test_page_renders_events and map", "--retries", "1",
                    targets=demo_targets, workdir=workdir)
    assert run.exit_code == 0, run.output
    assert run.severity == "OK"
    [flaky] = run.verdict["flaky"]
    assert flaky["check"] == "test_page_renders_events[/map]"
    first, second = flaky["attempts"]
    assert (first["outcome"], second["outcome"]) == ("failed", "passed")
    assert "/map: did not load" in first["summary"] and "500" in first["summary"]
    assert first["evidence"] and second["evidence"], "each attempt keeps its own evidence"
    assert first["evidence"] != second["evidence"]
    assert "VERDICT: OK (1 check FLAKY)" in run.output
    assert "FLAKY test_page_renders_events[/map]: failed 1 of 2 attempts, then passed: /map: did not load" in run.output
    results = [r for r in _allure_results(run.output, workdir) if r.get("name") == "test_page_renders_events[/map]"]
    assert sorted(r["status"] for r in results) == ["failed", "passed"], "Allure shows the failed attempt as a retry"
    assert len({r["historyId"] for r in results}) == 1


def test_the_gate_decides_the_exit_code_of_a_flaky_only_run(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("route_500", route="/map", times=2)
    run = run_suite("-m", "comprehensive", "-k", "test_page_renders_events and map", "--retries", "1",
                    "--flaky-fails", targets=demo_targets, workdir=workdir)
    assert run.exit_code == 7, run.output
    assert [f["check"] for f in run.verdict["flaky"]] == ["test_page_renders_events[/map]"]


def test_without_a_retry_policy_a_failing_check_is_not_retried(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("route_500", route="/map", times=2)
    run = run_suite("-m", "comprehensive", "-k", "test_page_renders_events and map", targets=demo_targets,
                    workdir=workdir)
    assert run.exit_code == 1, run.output
    assert run.verdict["flaky"] == []
    assert run.findings("test_page_renders_events[/map]")
