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


# --- many targets in one run, and the merge of a CI matrix's jobs ----------------------------------------


def two_targets(workdir, demo_stack, prod_stack):
    """One targets file describing two running stacks: ``demo`` (the default flavour) and ``prod``."""
    from tests.demo_support import prod_targets_file

    demo = targets_file(workdir, demo_stack.info().state_dir).read_text()
    prod = prod_targets_file(workdir, prod_stack).read_text()
    path = workdir / "two-targets.toml"
    path.write_text(demo + "\n" + prod)
    return path


def test_many_targets_in_one_run_give_a_verdict_each_and_the_worst_combined(healthy_stack, healthy_prod_stack,
                                                                             workdir, tmp_path):
    healthy_prod_stack.inject("app_down")
    targets = two_targets(workdir, healthy_stack, healthy_prod_stack)
    run = run_suite("--target", "demo", "--target", "prod", "--junitxml", str(tmp_path / "junit.xml"),
                    targets=targets, workdir=tmp_path)
    assert run.exit_code == 1, run.output
    per = {t["target"]: t["severity"] for t in run.verdict["targets"]}
    assert per == {"demo": "OK", "prod": "SEV2"}, run.output
    assert run.verdict["severity"] == "SEV2"
    assert run.findings() and {f["target"] for f in run.findings()} == {"prod"}
    assert "COMBINED VERDICT: SEV2 - demo OK, prod SEV2" in run.output
    assert " target demo: exit 0" in run.output and " target prod: exit 1" in run.output
    assert "VERDICT: OK" in run.output and "VERDICT: SEV2" in run.output
    for name in ("demo", "prod"):  # each target its own verdict file and kept run
        own = json.loads((tmp_path / "targets" / name / "verdict.json").read_text())
        assert own["target"] == name
        assert list((tmp_path / "targets" / name / "runs").glob("*/allure-results"))
    results = [json.loads(p.read_text()) for p in (tmp_path / "targets" / "allure-results").glob("*-result.json")]
    labels = {lb["value"] for r in results for lb in r["labels"] if lb["name"] == "target"}
    assert labels == {"demo", "prod"}
    junit = (tmp_path / "junit.xml").read_text()
    assert 'name="demo"' in junit and 'name="prod"' in junit


def test_the_merge_of_three_jobs_gives_one_verdict_and_one_allure_report(healthy_stack, workdir, tmp_path):
    """Three jobs of a CI matrix (eu, us, asia), each a real run writing its own reports dir; us fails."""
    import subprocess
    import sys

    from scenescout_ir.reporting import report

    base = targets_file(workdir, healthy_stack.info().state_dir).read_text()
    dirs = []
    for name in ("eu", "us", "asia"):
        if name == "us":
            healthy_stack.inject("api_5xx")
        targets = tmp_path / f"{name}.toml"
        targets.write_text(base.replace("[targets.demo", f"[targets.{name}"))
        job = tmp_path / name
        job.mkdir()
        run = run_suite("--target", name, targets=targets, workdir=job)
        assert run.exit_code == (1 if name == "us" else 0), run.output
        healthy_stack.clear()
        dirs.append(job)
    try:
        allure = report.allure_command(report.Path(__file__).resolve().parents[2])
    except report.ReportError as exc:
        pytest.fail(f"the Allure tool is part of make test: {exc}")
    out = tmp_path / "merged"
    proc = subprocess.run([sys.executable, "-m", "scenescout_ir", "merge", *map(str, dirs), "--output", str(out),
                           "--html", str(out / "report.html")], capture_output=True, text=True, timeout=180,
                          env={**__import__("os").environ, "SCENESCOUT_ALLURE": allure[0],
                               "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md")})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "COMBINED VERDICT: SEV2 - eu OK, us SEV2, asia OK" in proc.stdout
    merged = json.loads((out / "verdict.json").read_text())
    assert merged["severity"] == "SEV2" and merged["exit_code"] == 1
    assert [t["target"] for t in merged["targets"]] == ["eu", "us", "asia"]
    assert {f["target"] for f in merged["findings"]} == {"us"}
    results = [json.loads(p.read_text()) for p in (out / "allure-results").glob("*-result.json")]
    by_target = {lb["value"] for r in results for lb in r["labels"] if lb["name"] == "parentSuite"}
    assert by_target == {"eu", "us", "asia"}
    health = [r for r in results if r["name"].startswith("test_health_endpoint[/api/health]")]
    assert len({r["historyId"] for r in health}) == 3, "one history per target: never each other's retries"
    assert sorted(r["status"] for r in health) == ["failed", "passed", "passed"]
    html = (out / "report.html").read_text(errors="replace")
    assert len(html) > 100_000
    summary = (tmp_path / "step-summary.md").read_text()
    assert "## SceneScout deploy gate: SEV2" in summary and "| us | **SEV2** |" in summary


@pytest.mark.parametrize("emergency", [False, True])
def test_the_retry_policy_of_targets_toml_is_off_in_an_emergency_run_unless_asked(healthy_stack, workdir, emergency):
    """[targets.X.retries] for the health checks: an emergency run does not retry them unless emergency = true;
    a check failing on every attempt says so in its finding."""
    healthy_stack.inject("api_5xx")
    targets = targets_file(workdir, healthy_stack.info().state_dir, sections={
        "retries": {"count": 1, "checks": ["test_health_endpoint"], "emergency": emergency}})
    run = run_suite("-k", "test_health_endpoint", targets=targets, workdir=workdir)
    assert run.exit_code == 1, run.output
    summary = run.findings("test_health_endpoint[/api/health]")[0]["summary"]
    assert summary.endswith("(failed on all 2 attempts)") == emergency, summary
    assert run.verdict["flaky"] == []
