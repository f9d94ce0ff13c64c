"""Drills: the playbook's Common Incident Scenarios, each fault injected into the demo stack, and the
scenario's deep-dive must name the layer at fault (and pass on the healthy stack)."""

import socket

import pytest

from tests.demo_support import run_suite, targets_file

pytestmark = pytest.mark.timeout(180)


def scenario(name, targets, workdir, **kwargs):
    return run_suite("-m", "comprehensive", f"scenarios/test_{name}.py", targets=targets, workdir=workdir, **kwargs)


SOURCES = ("ticketmaster", "eventbrite", "songkick", "meetup")

# every check of each deep dive, and its outcome on the healthy demo stack (plain HTTP: no certificate to judge)
HEALTHY = {
    "site_down": {
        "test_something_listens_on_the_site_port": "passed",
        "test_tls_certificate_is_valid": "not_applicable",
        "test_the_application_answers_behind_the_proxy": "passed",
        "test_application_processes_run": "passed",
    },
    "database_connection_failures": {
        "test_database_port_accepts_tcp": "passed",
        "test_no_application_hoards_connections": "passed",
    },
    "api_ingestion_failure": {f"test_ingestion_function_logs[{s}]": "passed" for s in SOURCES},
    "performance_degradation": {"test_identify_the_slow_component": "passed"},
}


@pytest.mark.parametrize("name", list(HEALTHY))
def test_every_deep_dive_passes_on_the_healthy_stack(demo_stack, demo_targets, workdir, name):
    run = scenario(name, demo_targets, workdir)
    assert {check: run.outcome_of(check) for check in run.ran} == HEALTHY[name], run.output
    assert run.severity == "OK" and run.exit_code == 0, run.output


def test_scenario_1_app_down_nothing_listens_and_no_process_runs(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("app_down")
    run = scenario("site_down", demo_targets, workdir)
    (tcp,) = run.findings("test_something_listens_on_the_site_port")
    (ps,) = run.findings("test_application_processes_run")
    assert "connection refused" in tcp["summary"] and "not running" in ps["summary"]
    assert run.severity == "SEV1"


def test_scenario_1_app_hanging_the_connection_opens_but_nothing_answers(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("app_hanging")
    run = scenario("site_down", demo_targets, workdir)
    assert run.outcome_of("test_something_listens_on_the_site_port") == "passed", run.output
    (http,) = run.findings("test_the_application_answers_behind_the_proxy")
    assert "nothing answers over HTTP" in http["summary"] and "hung" in http["summary"]


def test_scenario_2_names_who_hoards_the_connections(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("connection_saturation")
    run = scenario("database_connection_failures", demo_targets, workdir)
    (finding,) = run.findings("test_no_application_hoards_connections")
    assert "scenescout_app" in finding["summary"] and "'idle'" in finding["summary"]
    assert finding["severity"] == "SEV2"


def test_scenario_2_a_closed_database_port_is_named(demo_stack, workdir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    targets = workdir / "closed-db.toml"
    targets.write_text(f'[targets.elsewhere]\nbase_url = "{demo_stack.info().base_url}"\ndsn_env = "DRILL_DSN"\n')
    run = run_suite("-m", "comprehensive", "scenarios/test_database_connection_failures.py", "--target", "elsewhere",
                    targets=targets, workdir=workdir,
                    env={"DRILL_DSN": f"postgresql://oncall:drill-secret@127.0.0.1:{closed}/scenescout"})
    (finding,) = run.findings("test_database_port_accepts_tcp")
    assert "connection refused" in finding["summary"] and "drill-secret" not in run.output


def test_scenario_3_reads_each_sources_ingestion_errors(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("log_error_burst", count=40)
    run = scenario("api_ingestion_failure", demo_targets, workdir)
    stale = {f["check"] for f in run.findings()}
    assert stale == {f"test_ingestion_function_logs[{s}]" for s in SOURCES}
    assert all("upstream request failed" in f["summary"] for f in run.findings())


def test_scenario_4_names_the_application_as_the_slow_layer(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("slow_responses", seconds=2.5)
    run = scenario("performance_degradation", demo_targets, workdir)
    (finding,) = run.findings("test_identify_the_slow_component")
    assert "the slow layer is the application itself" in finding["summary"]
    assert finding["severity"] == "SEV3"


def test_scenario_4_names_the_database_path(demo_stack, workdir):
    strict = targets_file(workdir, demo_stack.info().state_dir, response_slo_s=0.0005)
    run = scenario("performance_degradation", strict, workdir)
    (finding,) = run.findings("test_identify_the_slow_component")
    assert "the slow layer is" in finding["summary"] and "database round trip" in finding["summary"]


def test_ingestion_recovery_counts_from_the_open_incidents_start(demo_stack, demo_targets, workdir):
    """Without --since, recovery means new events since the open incident began (here: one that starts in an hour,
    so no source can have recovered yet, and every one must say so)."""
    from datetime import UTC, datetime, timedelta

    from scenescout_ir.incident import log as incident

    incidents = workdir / "incidents"
    log = incident.start(incidents, "drill: recovery window", now=datetime.now(UTC) + timedelta(hours=1))
    try:
        run = run_suite("-m", "comprehensive", "-k", "test_ingestion_recovered", targets=demo_targets,
                        workdir=workdir)
        assert {f["check"] for f in run.findings()} >= {
            f"test_ingestion_recovered[{s}]" for s in ("ticketmaster", "eventbrite", "songkick", "meetup")}
        assert run.severity == "SEV1"
    finally:
        log.unlink()
