"""The provider layer on the prod flavour: each Supabase drill at its expected verdict and probable cause (the
detection matrix), the provider API's own failures (token missing, wrong, rate-limited; hung), and the token
never shown anywhere a run writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fixtures.demo import supabase_api
from fixtures.demo.drills import EXPECTED
from fixtures.demo.stack import PROVIDER_TOKEN_ENV
from tests.demo_support import prod_targets_file, prove, run_suite

# one worker runs the prod-flavour modules: its stack starts once (make test: loadgroup)
pytestmark = [pytest.mark.timeout(240), pytest.mark.xdist_group("prod_flavour")]

PROVIDER_FAULTS = [f for f, e in EXPECTED.items() if f.startswith("supabase_")]


def _run(stack: Any, workdir: Path, *args: str, sections: dict[str, Any] | None = None,
         env: dict[str, str] | None = None) -> Any:
    targets = prod_targets_file(workdir, stack, sections=sections)
    return run_suite("-m", "emergency", "--target", "prod", *args, targets=targets, workdir=workdir, env=env)


def _workdir(workdir: Path, name: str) -> Path:
    where = workdir / f"provider-{name}"
    where.mkdir(exist_ok=True)
    return where


def test_a_healthy_project_passes_every_provider_check(healthy_prod_stack, workdir):
    run = _run(healthy_prod_stack, _workdir(workdir, "healthy"))
    assert run.severity == "OK" and run.exit_code == 0, run.output
    provider_checks = [c for c in ("test_provider_project_status", "test_provider_services_healthy",
                                   "test_ingestion_function[meetup]", "test_ingestion_function_errors[meetup]",
                                   "test_api_error_rates", "test_provider_status_page")]
    assert all(run.outcome_of(c) == "passed" for c in provider_checks)
    assert run.verdict["counts"]["passed"] == run.verdict["counts"]["total"], run.output
    assert not run.verdict.get("context") and "Context:" not in run.output


@pytest.mark.parametrize("fault", PROVIDER_FAULTS)
def test_each_provider_drill_gives_its_verdict_and_probable_cause(healthy_prod_stack, workdir, fault):
    healthy_prod_stack.inject(fault, **EXPECTED[fault].params)
    run = _run(healthy_prod_stack, _workdir(workdir, fault))
    prove(fault, run, "prod")  # the verdict, the finding (or blind component, or context), the probable cause


def test_a_function_failing_while_the_database_looks_fine_names_the_function_not_the_app(healthy_prod_stack,
                                                                                           workdir):
    where = _workdir(workdir, "function-errors")
    assert _run(healthy_prod_stack, where).severity == "OK"  # the last healthy run: its function log signatures
    healthy_prod_stack.inject("supabase_function_errors", source="meetup")
    run = _run(healthy_prod_stack, where)
    (finding,) = run.findings()
    assert finding["check"] == "test_ingestion_function_errors[meetup]"
    assert "FetchError: 429 Too Many Requests" in finding["summary"] and "ingest-meetup" in finding["summary"]
    assert run.outcome_of("test_ingestion_freshness[meetup]") == "passed"  # its events still come
    new = [c["text"] for c in run.verdict["changes"]]  # counted and masked like a log file's error patterns
    assert "FetchError: <n> Too Many Requests from api.meetup.com (request <hex>, retry after <n> s) x" in new[0], new
    assert new[0].endswith("new in supabase:ingest-meetup") and "FetchError" in run.output.split("Changed since")[1]


def test_a_paused_project_names_the_provider_and_its_next_step_not_a_restart_of_the_app(healthy_prod_stack,
                                                                                          workdir):
    healthy_prod_stack.inject("supabase_paused")
    run = _run(healthy_prod_stack, _workdir(workdir, "paused"))
    cause = run.verdict["probable_causes"][0]
    assert cause["component"] == "provider" and "INACTIVE" in cause["finding"], run.output
    assert any("test_health_endpoint" in s for s in cause["symptoms"]), cause  # the data API's 503: a symptom
    assert "Restore project" in run.output and "restarting the app does not help" in run.output


def test_no_token_makes_the_provider_checks_not_applicable_with_the_key_named(healthy_prod_stack, workdir):
    run = _run(healthy_prod_stack, _workdir(workdir, "no-token"),
               sections={"supabase": {"token_env": "SCENESCOUT_TEST_NO_SUCH_TOKEN"}})
    assert run.severity == "OK" and run.exit_code == 0, run.output
    reasons = {c["check"]: c["reason"] for c in run.verdict["not_applicable"]}
    assert "SCENESCOUT_TEST_NO_SUCH_TOKEN is not set" in reasons["test_provider_project_status"], reasons
    assert "token_env" in reasons["test_provider_project_status"] and not run.verdict["blind"]
    assert "test_provider_status_page" not in reasons  # the public status page is read without a token


def test_a_wrong_token_is_not_checked_exit_6_and_never_shown(healthy_prod_stack, workdir):
    wrong = "sbp_" + "f" * 40
    where = _workdir(workdir, "wrong-token")
    run = _run(healthy_prod_stack, where, env={PROVIDER_TOKEN_ENV: wrong})
    assert run.exit_code == 6 and "VERDICT: NOT CHECKED - supabase" in run.output, run.output
    assert PROVIDER_TOKEN_ENV in run.verdict["blind"][0]["reason"]
    _never_shown(wrong, run, where)


def test_a_rate_limited_management_api_is_could_not_run_named_not_an_incident(healthy_prod_stack, workdir):
    supabase_api.set_mode(healthy_prod_stack.state_dir, "rate_limited")
    try:
        run = _run(healthy_prod_stack, _workdir(workdir, "rate-limited"))
    finally:
        supabase_api.set_mode(healthy_prod_stack.state_dir, None)
    assert run.severity == "OK" and not run.verdict["blind"] and run.exit_code == 0, run.output
    reasons = {c["check"]: c["reason"] for c in run.verdict["could_not_run"]}
    assert "rate-limits the suite" in reasons["test_provider_project_status"] and "429" in reasons[
        "test_provider_project_status"]


def test_a_hung_management_api_is_could_not_run_and_the_rest_of_the_run_still_judges(healthy_prod_stack, workdir):
    supabase_api.set_mode(healthy_prod_stack.state_dir, "hang")
    try:
        run = _run(healthy_prod_stack, _workdir(workdir, "hung"))
    finally:
        supabase_api.set_mode(healthy_prod_stack.state_dir, None)
    assert run.severity == "OK" and run.exit_code == 0, run.output
    reasons = {c["check"]: c["reason"] for c in run.verdict["could_not_run"]}
    assert "did not answer" in reasons["test_provider_services_healthy"], reasons
    assert run.verdict["counts"]["passed"] > 0  # the database, the site and the logs were judged as usual


def test_a_hung_management_api_never_holds_the_verdict_past_a_short_budget(healthy_prod_stack, workdir):
    """The provider's read timeout is cut to what the run's budget leaves (here 8 s: 3 s or less, not 5 s)."""
    supabase_api.set_mode(healthy_prod_stack.state_dir, "hang")
    try:
        run = _run(healthy_prod_stack, _workdir(workdir, "hung-short-budget"), sections={"budget": {"emergency_s": 8}})
    finally:
        supabase_api.set_mode(healthy_prod_stack.state_dir, None)
    reason = {c["check"]: c["reason"] for c in run.verdict["could_not_run"]}["test_provider_project_status"]
    waited = float(re.search(r"no answer within ([\d.]+) s", reason).group(1))
    assert waited <= 3.0 and run.severity == "OK", run.output
    assert not any(c["reason"].startswith("run budget") for c in run.verdict["could_not_run"]), run.output


def test_the_token_never_appears_in_any_output_or_report(healthy_prod_stack, workdir):
    token = healthy_prod_stack.supabase()["token"]
    healthy_prod_stack.inject("supabase_function_errors", source="meetup")  # findings, evidence, a kept run
    where = _workdir(workdir, "secrets")
    run = _run(healthy_prod_stack, where)
    assert run.severity == "SEV3" and run.verdict["findings"][0]["evidence"], run.output
    _never_shown(token, run, where)


def _never_shown(token: str, run: Any, where: Path) -> None:
    assert token not in run.output
    written = [p for p in where.rglob("*") if p.is_file()]
    assert any(p.name == "verdict.json" for p in written)
    assert any("allure-results" in str(p) for p in written), "no Allure results were written"
    for path in written:
        assert token not in path.read_text(errors="replace"), f"the token is in {path}"


def test_the_prod_flavours_on_call_role_is_shaped_like_supabases_and_still_reads_slow_statements(
    healthy_prod_stack, workdir
):
    """Not a superuser; pg_stat_statements in the `extensions` schema: the performance check finds it there."""
    (superuser,) = healthy_prod_stack.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'oncall'")[0]
    (schema,) = healthy_prod_stack.sql("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = "
                                       "e.extnamespace WHERE e.extname = 'pg_stat_statements'")[0]
    assert superuser is False and schema == "extensions"
    healthy_prod_stack.inject("slow_query")
    targets = prod_targets_file(workdir, healthy_prod_stack)
    run = run_suite("-m", "performance", "-k", "test_slow_statements", "--target", "prod", targets=targets,
                    workdir=_workdir(workdir, "slow-query"))
    assert run.severity == "SEV3" and run.findings("test_slow_statements"), run.output
    sql_evidence = [e["text"] for e in run.findings("test_slow_statements")[0]["evidence"] if e["kind"] == "sql"]
    assert any("extensions" in text for text in sql_evidence), sql_evidence
