"""Issue 15 against the demo stack's real PostgreSQL, a second, least-privileged role and a real PgBouncer:

- a role that cannot see other roles' sessions does not pass the session checks blind: they are NOT CHECKED with
  the grant named (exit 6), and the same faults are found once the grant is given;
- through PgBouncer in transaction mode (its default configuration otherwise) the verdicts are a direct
  connection's, with the suite's statement bounds in force (read from the run's evidence); a pooler that refuses
  the suite's connection is its own configuration (NOT CHECKED, pooler phase), never DATABASE DOWN; a pooler on
  which the bounds cannot be set (statement mode) is said in the verdict;
- a DSN with a wrong port while the app's /api/health reports its database up is the suite's DSN (SEV4), not
  DATABASE DOWN.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from psycopg import sql

from fixtures.demo.pooler import Pooler, for_stack
from scenescout_ir.reporting import report
from tests.demo.test_database_access import free_port, outside_targets, with_netloc
from tests.demo_support import TEST_THRESHOLDS, run_suite, wait_for

pytestmark = pytest.mark.timeout(240)

SESSION_CHECKS = ("test_connection_saturation", "test_stuck_transactions", "test_blocking_locks")
LEAST = "oncall_least"  # LOGIN, CONNECT, SELECT on the app's tables: what "a read-only role" usually means
LEAST_PASSWORD = "least-privilege-pw-7c1e"


@pytest.fixture
def least_privileged_dsn(demo_stack):
    """A role that can log in and read the app's tables, without pg_read_all_stats or pg_monitor (dropped after)."""
    role = sql.Identifier(LEAST)
    demo_stack.sql(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(LEAST_PASSWORD)))
    demo_stack.sql(sql.SQL("GRANT CONNECT ON DATABASE scenescout TO {}").format(role))
    demo_stack.sql(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
    dsn = demo_stack.info().dsn
    parts = urlsplit(dsn)
    yield dsn.replace(f"{parts.username}:{parts.password}@", f"{LEAST}:{LEAST_PASSWORD}@")
    demo_stack.sql(sql.SQL("DROP OWNED BY {}").format(role))
    demo_stack.sql(sql.SQL("DROP ROLE {}").format(role))


def run_outside(stack, workdir, dsn):
    """The suite against the demo as a deployment it does not know (DSN in OUTSIDE_DSN), with the test thresholds
    (a transaction open 1 s is stuck)."""
    targets = outside_targets(stack, workdir)
    limits = {k: v for k, v in TEST_THRESHOLDS.items() if k in ("stuck_transaction_s", "blocking_wait_s")}
    targets.write_text(targets.read_text() + "[targets.outside.thresholds]\n"
                       + "".join(f"{k} = {v}\n" for k, v in limits.items()))
    return run_suite("--target", "outside", targets=targets, workdir=workdir, env={"OUTSIDE_DSN": dsn})


def hold_session_faults(stack):
    """The app role's sessions: an idle-in-transaction one and a running one, and a lock chain."""
    for fault in ("stuck_transaction", "blocking_lock"):
        stack.inject(fault)
    wait_for(lambda: stack.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
        " AND now() - state_change > interval '1.5 s'")[0][0] > 0, "an idle transaction older than 1.5 s")
    wait_for(lambda: stack.sql(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND now() - waitstart > interval '1.5 s'")[0][0] > 0,
        "a lock wait older than 1.5 s")


def test_a_role_that_sees_only_its_own_sessions_is_not_checked_until_it_is_granted_pg_read_all_stats(
    healthy_stack, least_privileged_dsn, workdir
):
    hold_session_faults(healthy_stack)
    blind_run = run_outside(healthy_stack, workdir, least_privileged_dsn)
    assert blind_run.exit_code == 6, blind_run.output
    assert not [f for f in blind_run.findings() if f["component"] == "database"], blind_run.output
    (blind,) = blind_run.verdict["blind"]
    assert blind["component"] == "database sessions" and set(blind["checks"]) == set(SESSION_CHECKS)
    assert f"this role ({LEAST}) sees only its own sessions" in blind["reason"]
    assert blind["reason"].endswith(f"grant pg_read_all_stats (or pg_monitor) to {LEAST}")
    assert all(blind_run.outcome_of(check) == "could_not_run" for check in SESSION_CHECKS)  # never passed
    assert "VERDICT: NOT CHECKED - database sessions" in blind_run.output
    assert "DATABASE SESSIONS NOT CHECKED: this role" in blind_run.output
    assert "VERDICT: OK" not in blind_run.output
    # what it could see it still checked: the connection and the app's tables
    assert blind_run.outcome_of("test_database_connectivity") == "passed"
    assert blind_run.outcome_of("test_ingestion_freshness[meetup]") == "passed"

    healthy_stack.sql(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(LEAST)))
    granted = run_outside(healthy_stack, workdir, least_privileged_dsn)
    assert granted.exit_code == 1 and not granted.verdict["blind"], granted.output
    found = {f["check"]: f["summary"] for f in granted.findings()}
    assert {"test_stuck_transactions", "test_blocking_locks"} <= set(found), granted.output
    assert "scenescout_app" in found["test_stuck_transactions"] and "idle in transaction" in found[
        "test_stuck_transactions"]
    assert "UPDATE api_configurations" in found["test_blocking_locks"]


# --- PgBouncer in front of the demo database ---------------------------------------------------------------


@pytest.fixture
def pooler(demo_stack, request):
    """PgBouncer in transaction mode (PgBouncer's defaults otherwise; a test's ``pooler_settings`` param adds
    keys) in front of the demo database; stopped after the test, no process left."""
    settings = getattr(request, "param", {})
    # where the postgres user can enter, also when the checkout is a clone in a 0700 home
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)
    with for_stack(demo_stack, demo_stack.pooler_dir(f"pooler-{name}"), settings=settings) as running:
        yield running
    assert not running.running()


def own_workdir(workdir, name):
    """A reports dir of this test's own, so its kept run is the newest there."""
    here = workdir / name
    here.mkdir(exist_ok=True)
    return here


def kept_evidence(reports_dir: Path) -> list[str]:
    """The text attachments of the newest kept run (the evidence of every check, passed ones included)."""
    newest = report.runs(reports_dir)[-1]
    return [p.read_text() for p in (newest / "allure-results").glob("*-attachment.*") if p.suffix in (".txt", ".csv")]


@pytest.mark.parametrize(
    ("pooler", "dsn_options"),
    [({}, None), ({"ignore_startup_parameters": "options"}, "-c statement_timeout=0")],
    ids=["default configuration", "options ignored by the pooler"],
    indirect=["pooler"],
)
def test_through_pgbouncer_a_healthy_run_is_ok_with_the_suites_bounds_in_force(
    healthy_stack, pooler: Pooler, workdir, dsn_options
):
    dsn = pooler.dsn_for(healthy_stack.info().dsn)
    if dsn_options:  # what the pooler drops silently: the suite's bounds must not depend on it
        dsn += "?options=" + dsn_options.replace(" ", "%20").replace("=", "%3D")
    here = own_workdir(workdir, f"pooled-healthy-{bool(dsn_options)}")
    run = run_outside(healthy_stack, here, dsn)
    assert run.severity == "OK" and run.exit_code == 0, run.output
    assert not run.verdict["warnings"] and "WARNING" not in run.output
    assert run.verdict["footprint"]["db_connections"] == 1
    evidence = kept_evidence(here)
    (connection,) = [e for e in evidence if e.startswith("connected to oncall@127.0.0.1:")]
    assert f"127.0.0.1:{pooler.port}/scenescout" in connection
    assert "bounds: statement_timeout 5s, lock_timeout 1s, idle_in_transaction_session_timeout 10s, read-only on, " \
           "set per transaction (SET LOCAL) and verified" in connection
    # SELECT ... current_setting('statement_timeout') of the connectivity query, through the pooler
    (shown,) = [e for e in evidence if e.startswith("version,server_version_num,in_recovery,read_only,statement_")]
    assert shown.splitlines()[1].endswith(",on,5s")


def test_through_pgbouncer_a_stuck_transaction_is_found(healthy_stack, pooler: Pooler, workdir):
    healthy_stack.inject("stuck_transaction")
    wait_for(lambda: healthy_stack.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
        " AND now() - state_change > interval '1.5 s'")[0][0] > 0, "an idle transaction older than 1.5 s")
    run = run_outside(healthy_stack, workdir, pooler.dsn_for(healthy_stack.info().dsn))
    assert run.outcome_of("test_stuck_transactions") == "failed", run.output
    (finding,) = run.findings("test_stuck_transactions")
    assert run.exit_code == 1 and finding["severity"] == "SEV3", run.output
    assert "idle in transaction" in finding["summary"] and "pg_sleep" in finding["summary"]
    assert "scenescout-ir" not in finding["summary"]  # the suite's own pooled sessions are never a finding


@pytest.mark.parametrize(
    ("change", "words"),
    [({"options": "-c search_path=public"}, "unsupported startup parameter: options"),
     ({"dbname": "scenescout_pool_typo"}, "no such database: scenescout_pool_typo")],
    ids=["a startup parameter it refuses", "a database it does not know"],
)
def test_a_pooler_that_refuses_the_suite_is_not_checked_never_database_down(
    healthy_stack, pooler: Pooler, workdir, change, words
):
    dsn = pooler.dsn_for(healthy_stack.info().dsn, dbname=change.get("dbname"))
    if "options" in change:
        dsn += "?options=" + change["options"].replace(" ", "%20").replace("=", "%3D")
    run = run_outside(healthy_stack, workdir, dsn)
    assert run.exit_code == 6, run.output
    assert not run.findings() and "DATABASE DOWN" not in run.output and "SEV2" not in run.output
    (blind,) = run.verdict["blind"]
    assert blind["component"] == "database" and words in blind["reason"]
    assert "connection pooler" in blind["reason"] and blind["reason"].endswith("fix OUTSIDE_DSN")
    (evidence,) = [e for e in blind["evidence"] if e["kind"] == "database"]
    assert evidence["data"]["phase"] == "pooler"


@pytest.mark.parametrize("pooler", [{"pool_mode": "statement"}], indirect=True, ids=["statement mode"])
def test_a_pooler_on_which_the_bounds_cannot_be_set_is_said_in_the_verdict(healthy_stack, pooler: Pooler, workdir):
    run = run_outside(healthy_stack, workdir, pooler.dsn_for(healthy_stack.info().dsn))
    assert run.severity == "OK" and run.exit_code == 0, run.output  # the same verdict: the checks still ran
    (warning,) = run.verdict["warnings"]
    assert warning.startswith("the suite's statement bounds are not in force: the server refuses transaction blocks")
    assert "client-side deadline of 7 s" in warning
    assert f"WARNING: {warning}" in run.output


# --- evidence against evidence ---------------------------------------------------------------------------------


def test_a_wrong_port_while_the_app_reports_its_database_up_is_the_suites_dsn_not_database_down(demo_stack, workdir):
    port = free_port()
    run = run_outside(demo_stack, workdir, with_netloc(demo_stack.info().dsn, port=port))
    (finding,) = run.findings("test_database_connectivity")
    assert run.severity == "SEV4" and run.exit_code == 1, run.output
    assert finding["condition"] == "Minor configuration issues" and "DATABASE DOWN" not in finding["summary"]
    assert finding["summary"].startswith("the app's /api/health reports its database up")
    assert f"the suite's DSN (127.0.0.1:{port}) is the likely cause" in finding["summary"]
    cause = run.verdict["probable_causes"][0]
    assert cause["component"] == "suite DSN" and cause["severity"] == "SEV4"
    assert "Probable cause: suite DSN - Minor configuration issues, SEV4: the app's /api/health reports its " \
           "database up" in run.output
    evidence = json.dumps(finding["evidence"])
    assert '"phase": "tcp"' in evidence  # the suite's own attempt stays the finding's evidence

