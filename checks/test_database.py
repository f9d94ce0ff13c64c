"""Initial Response and Investigation: the database, through one read-only session with timeouts."""

import pytest

from scenescout_ir.core.outcomes import Blind

pytestmark = pytest.mark.emergency


@pytest.mark.playbook(
    'psql $DATABASE_URL -c "SELECT 1;" || echo "DATABASE DOWN"',
    'psql $DATABASE_URL -c "SELECT version();"',
)
@pytest.mark.condition("database_connection")
def test_database_connectivity(db, target):
    """psql $DATABASE_URL -c "SELECT 1;" || echo "DATABASE DOWN"  (and SELECT version();)"""
    status = db.record_connection()  # the endpoint, the phase that failed and the time spent, as evidence
    where = f"{status.phase} phase, {status.endpoint or 'no DSN'}, after {status.elapsed_s:.1f} s"
    if status.suite_problem:
        variable = "the demo stack (make demo)" if target.is_demo else target.dsn_env
        raise Blind("database", f"{status.error} ({where}): {status.diagnosis}; the suite's own credentials or "
                                f"configuration, not an incident: fix {variable}")
    assert status.ok, f"DATABASE DOWN: {status.diagnosis} ({status.error}; {where})"


@pytest.mark.playbook(
    'psql $DATABASE_URL -c "SHOW max_connections;"',
    'psql $DATABASE_URL -c "SELECT count(*) FROM pg_stat_activity;"',
    "count(*) as active_connections",
)
@pytest.mark.condition("connection_saturation")
def test_connection_saturation(db, target):
    """SHOW max_connections; SELECT count(*) FROM pg_stat_activity;"""
    db.require_session_visibility()  # other roles' sessions hidden: not checked, never a pass
    row = db.query("connection_saturation").one()
    db.query("connections_by_state")  # who holds them: evidence for the person reading the finding
    usable = row["max_connections"] - row["reserved"]
    used = row["client_backends"]
    limit = target.thresholds.connection_saturation
    assert used < usable * limit, (
        f"{used} of {usable} usable connections taken ({used / usable:.0%}; limit: {limit:.0%}; "
        f"max_connections {row['max_connections']} less {row['reserved']} reserved)"
    )


@pytest.mark.playbook("AND query_start < NOW() - INTERVAL '5 minutes';")
@pytest.mark.condition("stuck_transactions")
def test_stuck_transactions(db, target):
    """Check for stuck transactions: state != 'idle' AND query_start < NOW() - INTERVAL '5 minutes'"""
    db.require_session_visibility()
    limit = target.thresholds.stuck_transaction_s
    stuck = db.query("stuck_transactions", {"limit_s": limit}).records()
    described = "; ".join(
        f"pid {s['pid']} ({s['usename']}, {s['application_name'] or 'no app name'}) {s['state']} "
        f"{s['xact_age_s'] if s['state'] == 'active' else s['in_state_s']} s: {s['query'][:80]!r}"
        for s in stuck[:5]
    )
    assert not stuck, f"{len(stuck)} transactions open longer than {limit:g} s: {described}"


@pytest.mark.playbook("blocked_locks.pid AS blocked_pid")
@pytest.mark.condition("blocking_locks")
def test_blocking_locks(db, target):
    """Scenario 4: Check for blocking queries (who blocks whom, and for how long)"""
    db.require_session_visibility()
    limit = target.thresholds.blocking_wait_s
    blocked = [b for b in db.query("blocking_locks").records() if float(b["waiting_s"]) >= limit]
    described = "; ".join(
        f"pid {b['blocked_pid']} waiting {b['waiting_s']} s on pid {b['blocking_pid']} "
        f"({b['blocking_user']}, {b['blocking_state']}, transaction open {b['blocking_xact_s']} s: "
        f"{b['blocking_statement'][:80]!r})"
        for b in blocked[:5]
    )
    assert not blocked, f"{len(blocked)} sessions blocked longer than {limit:g} s: {described}"
