"""Item 6 and 12 against the demo stack's real PostgreSQL: a database the suite cannot log in to is
'NOT CHECKED' (a loud line, verdict.json "blind", exit 6), a database that is down or refuses everyone is
an incident; either way the connection attempt is evidence: endpoint (no password), phase, time spent.

A target that is not the demo (``outside``) is pointed at the demo's web process and its PostgreSQL, with
the DSN in an environment variable, as a user configures a real deployment."""

import json
import re
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

from scenescout_ir.incident import log as incident
from tests.demo_support import run_suite

pytestmark = pytest.mark.timeout(180)


def outside_targets(stack, workdir):
    info = stack.info()
    lines = [
        "[targets.outside]",
        f'base_url = "{info.base_url}"',
        'dsn_env = "OUTSIDE_DSN"',
        f"logs = {json.dumps([str(info.app_log), str(info.ingestion_log)])}",
        "host_checks = false",
        "[targets.outside.sources]",
        *(f'{s} = {{ max_age = "10m" }}' for s in info.sources),
    ]
    path = workdir / "targets-outside.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def with_netloc(dsn, *, password=None, host=None, port=None, dbname=None):
    parts = urlsplit(dsn)
    user = parts.username
    netloc = f"{user}:{password or parts.password}@{host or parts.hostname}:{port or parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{dbname}" if dbname else parts.path))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_outside(stack, workdir, dsn):
    return run_suite("--target", "outside", targets=outside_targets(stack, workdir), workdir=workdir,
                     env={"OUTSIDE_DSN": dsn})


def connection_evidence(entry):
    (evidence,) = [e for e in entry["evidence"] if e["kind"] == "database"]
    return evidence


def test_the_right_dsn_checks_the_database(demo_stack, workdir):
    run = run_outside(demo_stack, workdir, demo_stack.info().dsn)
    checks = ("test_database_connectivity", "test_connection_saturation", "test_stuck_transactions",
              "test_blocking_locks")
    assert {check: run.outcome_of(check) for check in checks} == dict.fromkeys(checks, "passed"), run.output
    assert not run.verdict["blind"] and run.exit_code in (0, 1)


@pytest.mark.parametrize(
    ("change", "phase", "words"),
    [
        ({"password": "rotated-wrong-pw"}, "authentication", "password authentication failed"),
        ({"dbname": "scenescot"}, "authentication", 'database "scenescot" does not exist'),
        ({"host": "scenescout-db.invalid"}, "dns", "failed to resolve host"),
    ],
)
def test_a_database_the_suite_cannot_log_in_to_is_not_checked_never_ok(demo_stack, workdir, change, phase, words):
    real = demo_stack.info().dsn
    dsn = with_netloc(real, **change)
    incidents = workdir / "incidents"
    log = incident.start(incidents, "the app cannot log in to the database")  # resolved below: the workdir is shared
    before = set((workdir / "runs").iterdir()) if (workdir / "runs").is_dir() else set()
    try:
        run = run_outside(demo_stack, workdir, dsn)
    finally:
        incident.resolve(incidents, resolution="test over", root_cause="-", impact="-", next_steps="-")
    (blind,) = run.verdict["blind"]
    assert run.exit_code == 6, run.output
    # issue 15: one state everywhere, never OK: verdict.json, the kept run's name, the incident log
    assert run.severity == "NOT CHECKED" and not run.findings("test_database_connectivity")
    (kept,) = set((workdir / "runs").iterdir()) - before
    # two runs in the same second share a name, the second one numbered (report.archive_run): ...-NOT-CHECKED-2
    assert re.search(r"-NOT-CHECKED(-\d+)?$", kept.name), kept.name
    logged = log.read_text()
    assert "Investigation findings: VERDICT: NOT CHECKED - database (outside" in logged
    assert "VERDICT: OK" not in logged
    assert blind["component"] == "database" and words in blind["reason"] and "fix OUTSIDE_DSN" in blind["reason"]
    (loud,) = [line for line in run.output.splitlines() if line.startswith("DATABASE NOT CHECKED: ")]
    assert words in loud and loud.endswith("not an incident: fix OUTSIDE_DSN")
    assert "VERDICT: NOT CHECKED - database" in run.output
    evidence = connection_evidence(blind)
    assert evidence["data"]["phase"] == phase and "oncall@" in evidence["text"]
    secrets = {urlsplit(real).password, urlsplit(dsn).password}
    assert not any(s in run.output or s in json.dumps(run.verdict) for s in secrets)
    dependent = {c["check"]: c["reason"] for c in run.verdict["could_not_run"]}
    assert dependent["test_connection_saturation"].startswith("database not checked")
    assert {"test_database_connectivity", "test_connection_saturation"} <= set(blind["checks"])
    assert blind["check"] == "test_database_connectivity"  # the reason and evidence of the connection attempt


def test_a_refused_port_on_the_database_host_is_an_incident(demo_stack, workdir):
    """Without the app's word on its database (its health endpoints not checked): with it, see
    test_database_visibility_and_poolers.py, a wrong port is the suite's DSN."""
    dsn = with_netloc(demo_stack.info().dsn, port=free_port())
    run = run_suite("-k", "not test_health_endpoint", "--target", "outside",
                    targets=outside_targets(demo_stack, workdir), workdir=workdir, env={"OUTSIDE_DSN": dsn})
    (finding,) = run.findings("test_database_connectivity")
    assert run.exit_code == 1 and run.severity == "SEV2" and not run.verdict["blind"]
    assert finding["condition"] == "Database connection problems"
    assert finding["summary"].startswith("DATABASE DOWN: nothing listens on the database port")
    evidence = connection_evidence(finding)
    assert evidence["data"]["phase"] == "tcp" and "time spent: " in evidence["text"]


def test_a_stopped_database_is_still_sev2_with_its_connection_evidence(healthy_stack, demo_targets, workdir):
    healthy_stack.inject("db_stopped")
    run = run_suite(targets=demo_targets, workdir=workdir)
    (finding,) = run.findings("test_database_connectivity")
    assert run.exit_code == 1 and run.severity == "SEV2" and not run.verdict["blind"], run.output
    evidence = connection_evidence(finding)
    assert evidence["data"]["phase"] in ("tcp", "startup") and "oncall@127.0.0.1:" in evidence["text"]
    assert evidence["data"]["blind"] is False


def test_scenario_2_does_not_call_a_dsn_typo_a_closed_port(demo_stack, workdir):
    dsn = with_netloc(demo_stack.info().dsn, host="scenescout-db.invalid")
    run = run_suite("-m", "comprehensive", "scenarios/test_database_connection_failures.py", "--target", "outside",
                    targets=outside_targets(demo_stack, workdir), workdir=workdir, env={"OUTSIDE_DSN": dsn})
    assert not run.findings(), run.output
    assert run.outcome_of("test_database_port_accepts_tcp") == "could_not_run" and run.exit_code == 6


def test_a_target_without_a_database_is_healthy_without_one(demo_stack, workdir):
    """Issue 15: a front-end-only target (a preview deployment without database access) says so in
    targets.toml (database = false): its database checks are not applicable with the key named, nothing is
    blind, a healthy run exits 0. The same target expecting its database, DSN unset, is still NOT CHECKED."""
    expecting = outside_targets(demo_stack, workdir)
    without = workdir / "targets-no-database.toml"
    without.write_text(expecting.read_text().replace("host_checks = false\n", "host_checks = false\n"
                                                                               "database = false\n"))
    run = run_suite("--target", "outside", targets=without, workdir=workdir)  # OUTSIDE_DSN is not set
    assert run.exit_code == 0 and run.severity == "OK" and not run.verdict["blind"], run.output
    assert "VERDICT: OK" in run.output and "NOT CHECKED" not in run.output
    reasons = {c["check"]: c["reason"] for c in run.verdict["not_applicable"]}
    for check in ("test_database_connectivity", "test_connection_saturation", "test_stuck_transactions"):
        assert reasons[check] == "no database to check (targets.outside.database = false)"
    assert any(c.startswith("test_ingestion_freshness[") for c in reasons)  # needs the database too
    assert "database: no database to check (targets.outside.database = false)" in run.output  # the header

    run = run_suite("--target", "outside", targets=expecting, workdir=workdir)
    assert run.exit_code == 6 and run.severity == "NOT CHECKED", run.output
    assert run.verdict["blind"][0]["component"] == "database"
