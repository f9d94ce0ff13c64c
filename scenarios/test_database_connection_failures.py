"""Scenario 2: Database Connection Failures - is it the network, the server, the credentials, or the pool?

Deep-dive after the emergency verdict names the database: `pytest scenarios/test_database_connection_failures.py`.
"""

import pytest

from scenescout_ir.core.outcomes import Blind

pytestmark = pytest.mark.comprehensive

@pytest.mark.condition("database_connection")
def test_database_port_accepts_tcp(db, net):
    """Check database server status: below the protocol, is the port open at all?"""
    status = db.connectivity()
    if status.suite_problem and status.phase in ("configuration", "dns"):  # a DSN typo is not a closed port
        raise Blind("database", f"database not checked (the suite's own configuration): {status.error}")
    host, port = db.endpoint()
    result = net.tcp_connect(host, port)
    assert result.ok, f"database port {host}:{port}: {result.error}; the server or the network to it is down"


@pytest.mark.playbook("count(*) FROM pg_stat_activity GROUP BY state;")
@pytest.mark.condition("connection_saturation")
def test_no_application_hoards_connections(db, target):
    """SELECT state, count(*) FROM pg_stat_activity GROUP BY state; - and who holds them."""
    db.require_session_visibility()  # other roles' sessions hidden: not checked, never a pass
    limits = db.query("connection_saturation").one()
    usable = limits["max_connections"] - limits["reserved"]
    rows = db.query("connections_by_state").records()
    share = target.thresholds.connection_saturation / 2
    hoarders = [r for r in rows if r["connections"] >= usable * share and r["state"] != "active"]
    described = "; ".join(f"{r['usename']} ({r['application_name'] or 'no app name'}) holds {r['connections']} "
                          f"'{r['state']}' connections" for r in hoarders)
    assert not hoarders, (
        f"{described} of {usable} usable (limit per holder: {share:.0%}): a connection leak or a pool sized too "
        "large; restart that client or its pooler"
    )
