"""`pytest -m emergency` against the demo stack: healthy gives OK, each fault gives its severity and names
its cause. Each check is shown failing on the fault it targets and passing on the healthy stack."""

import json

import pytest

from fixtures.demo.drills import EXPECTED
from tests.demo_support import prove, run_suite, targets_file, wait_for

pytestmark = pytest.mark.timeout(180)


def test_a_healthy_stack_gives_ok_and_every_check_passes(demo_stack, demo_targets, workdir):
    run = run_suite(targets=demo_targets, workdir=workdir)
    assert run.severity == "OK", run.output
    assert run.exit_code == 0
    # every check the run selected, however many there are (adding a check changes no number here); the provider
    # checks are not applicable to a target without a hosting provider configured (targets.X.supabase)
    counts = run.verdict["counts"]
    assert counts["passed"] + counts["not_applicable"] == counts["total"] == run.verdict["planned"] > 0
    assert counts["passed"] > 0 and {c["check"] for c in run.verdict["not_applicable"]} <= PROVIDER_CHECKS
    assert "VERDICT: OK" in run.output
    assert run.verdict["footprint"]["db_connections"] <= 2


PROVIDER_CHECKS = {"test_provider_project_status", "test_provider_services_healthy", "test_api_error_rates",
                   "test_provider_status_page", "test_ingestion_function[no Supabase project]",
                   "test_ingestion_function_errors[no Supabase project]"}
EMERGENCY_FAULTS = [f for f, e in EXPECTED.items()
                    if e.marker == "emergency" and e.flavour == "default"
                    and f not in ("stuck_transaction", "blocking_lock", "job_failing")]


@pytest.mark.parametrize("fault", EMERGENCY_FAULTS)
def test_each_fault_gives_its_severity_and_names_its_cause(healthy_stack, demo_targets, workdir, fault):
    """The severity, the finding and the probable cause of fixtures/demo/drills.py EXPECTED (the detection matrix)."""
    healthy_stack.inject(fault, **EXPECTED[fault].params)
    run = run_suite(targets=demo_targets, workdir=workdir)
    prove(fault, run)
    assert run.severity == EXPECTED[fault].severity and f"VERDICT: {run.severity}" in run.output, run.output
    assert run.exit_code == 1
    assert "Probable cause: " in run.output


def test_a_stuck_transaction_is_found_with_its_pid_and_age(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("stuck_transaction")
    wait_for(lambda: healthy_stack.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
        " AND now() - state_change > interval '1.5 s'")[0][0] > 0, "an idle transaction older than 1.5 s")
    run = run_suite(targets=demo_targets, workdir=workdir)
    prove("stuck_transaction", run)
    (finding,) = run.findings("test_stuck_transactions")
    assert run.severity in ("SEV2", "SEV3") and finding["severity"] == "SEV3"
    assert "idle in transaction" in finding["summary"] and "pg_sleep" in finding["summary"]


def test_a_blocking_lock_names_who_blocks_whom(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("blocking_lock")
    wait_for(lambda: healthy_stack.sql(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND now() - waitstart > interval '1.5 s'")[0][0] > 0,
        "a lock wait older than 1.5 s")
    run = run_suite(targets=demo_targets, workdir=workdir)
    prove("blocking_lock", run)
    (finding,) = run.findings("test_blocking_locks")
    assert run.severity in ("SEV2", "SEV3")
    assert "waiting" in finding["summary"] and "UPDATE api_configurations" in finding["summary"]


def test_database_down_is_one_finding_and_the_dependent_checks_say_why_they_did_not_run(
    healthy_stack, demo_targets, workdir
):
    healthy_stack.inject("db_hanging")
    run = run_suite(targets=demo_targets, workdir=workdir)
    reasons = {c["check"]: c["reason"] for c in run.verdict["could_not_run"]}
    assert set(reasons) >= {"test_connection_saturation", "test_stuck_transactions", "test_blocking_locks",
                            "test_ingestion_freshness[meetup]"}
    assert all(r.startswith("database unreachable") for r in reasons.values())
    assert [f["check"] for f in run.findings() if f["component"] == "database"] == ["test_database_connectivity"]


def test_xdist_gives_the_same_verdict(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("source_stale", source="songkick")
    serial = run_suite(targets=demo_targets, workdir=workdir)
    parallel = run_suite("-n", "2", targets=demo_targets, workdir=workdir)
    assert serial.severity == parallel.severity == "SEV2"
    assert sorted(f["check"] for f in serial.findings()) == sorted(f["check"] for f in parallel.findings())
    assert parallel.verdict["footprint"]["db_connections"] <= 2


def test_host_checks_fail_over_their_limits(demo_stack, workdir):
    strict = targets_file(workdir, demo_stack.info().state_dir, disk_used_pct=0.001, memory_used_pct=0.001,
                          load_per_core=0)
    run = run_suite(targets=strict, workdir=workdir)
    assert {"test_disk_space", "test_memory", "test_load"} <= {f["check"] for f in run.findings()}
    assert run.severity == "SEV3"


def test_a_host_name_that_does_not_resolve_is_a_dns_finding(demo_stack, demo_targets, workdir):
    run = run_suite("--base-url", "http://scenescout.invalid:8080", "-k", "site", targets=demo_targets,
                    workdir=workdir)
    (finding,) = run.findings("test_dns_resolution")
    assert run.severity == "SEV1" and "does not resolve" in finding["summary"]


def test_no_secret_reaches_the_output_or_the_verdict(healthy_stack, demo_targets, workdir):
    password = healthy_stack.info().dsn.split(":")[2].split("@")[0]
    healthy_stack.inject("db_stopped")
    run = run_suite(targets=demo_targets, workdir=workdir)
    assert password not in run.output
    assert password not in (workdir / "verdict.json").read_text()


def test_a_run_with_findings_says_what_changed_since_the_last_healthy_run(healthy_stack, demo_targets, workdir):
    healthy = run_suite(targets=demo_targets, workdir=workdir)
    assert healthy.severity == "OK" and healthy.verdict["fingerprint"]["endpoints"], healthy.output
    healthy_stack.inject("log_error_burst")
    run = run_suite(targets=demo_targets, workdir=workdir)
    assert run.verdict["changes_since"] == healthy.verdict["fingerprint"]["taken_at"]
    new = [c["text"] for c in run.verdict["changes"] if c["kind"] == "new_error"]
    assert any(text.endswith("new in application.log") for text in new), run.verdict["changes"]
    assert "Changed since the last healthy run" in run.output
    assert healthy_stack.state_dir.name not in json.dumps(run.verdict["fingerprint"])  # no paths, no secrets
