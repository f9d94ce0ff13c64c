"""The probes against real sockets: refused, silent and garbage-speaking servers."""

import socket
import threading
import time

import pytest

from scenescout_ir.core.config import Timeouts
from scenescout_ir.core.outcomes import Blind, CouldNotRun
from scenescout_ir.probes.db import Database
from scenescout_ir.probes.http import HttpProbe

FAST = Timeouts(connect_s=0.5, read_s=0.5, statement_s=1, dns_s=0.5)


@pytest.fixture
def garbage_server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def serve():
        conn, _ = sock.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x00\xffnot-js")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_host_is_asked_once():
    evidence = []
    probe = HttpProbe(FAST, evidence.append)
    port = free_port()
    first = probe.get(f"http://127.0.0.1:{port}/")
    second = probe.get(f"http://127.0.0.1:{port}/api/health")
    assert first.status is None and first.error == "connection refused"
    assert "not asked again" in second.error and probe.requests_made == 1
    assert len(evidence) == 2 and "no response" in evidence[0].text


def test_a_silent_host_costs_one_read_timeout_then_answers_at_once(silent_server):
    probe = HttpProbe(FAST, lambda e: None)
    start = time.monotonic()
    first = probe.get(f"http://127.0.0.1:{silent_server}/")
    after_first = time.monotonic() - start
    second = probe.get(f"http://127.0.0.1:{silent_server}/health")
    assert first.error == "no answer within 0.5 s (read timeout)"
    assert after_first < 3 and second.elapsed_s == 0.0 and "not asked again" in second.error


def test_a_garbage_body_is_a_result_not_a_crash(garbage_server):
    result = HttpProbe(FAST, lambda e: None).get(f"http://127.0.0.1:{garbage_server}/api/health")
    assert result.status == 200 and result.json() is None


def test_dns_failure_is_reported_with_its_reason():
    result = HttpProbe(FAST, lambda e: None).resolve("scenescout.invalid")
    assert result.addresses == () and result.error


@pytest.mark.slow  # waits out a real deadline (about 2 s)
def test_a_silent_database_is_found_out_once(silent_server):
    evidence = []
    db = Database(lambda: f"postgresql://u:pw@127.0.0.1:{silent_server}/d", FAST, evidence.append)
    start = time.monotonic()
    status = db.connectivity()
    assert not status.ok and ("timeout" in status.error.lower() or "no answer" in status.error)
    assert time.monotonic() - start < 5  # libpq's connect_timeout (2 s minimum) or our deadline
    again = time.monotonic()
    with pytest.raises(CouldNotRun, match="database unreachable"):
        db.query("connection_saturation")
    assert time.monotonic() - again < 0.1 and db.connections_opened == 1


def test_a_malformed_dsn_is_a_suite_problem():
    status = Database(lambda: "this is not a dsn", FAST, lambda e: None).connectivity()
    assert not status.ok and status.suite_problem


def test_a_refused_database_is_a_finding_not_a_suite_problem():
    status = Database(lambda: f"postgresql://u:pw@127.0.0.1:{free_port()}/d", FAST, lambda e: None).connectivity()
    assert not status.ok and not status.suite_problem and "refused" in status.error.lower()


def test_a_refused_port_is_a_tcp_failure_with_its_endpoint_and_time_as_evidence():
    evidence = []
    port = free_port()
    db = Database(lambda: f"postgresql://oncall:s3cret-pw@127.0.0.1:{port}/scenescout", FAST, evidence.append)
    status = db.record_connection()
    assert (status.ok, status.phase, status.suite_problem) == (False, "tcp", False)
    (item,) = evidence
    assert item.kind == "database" and f"oncall@127.0.0.1:{port}/scenescout" in item.text
    assert "failed phase: tcp" in item.text and "time spent:" in item.text and "s3cret-pw" not in item.text
    assert item.data["phase"] == "tcp" and item.data["blind"] is False


def test_a_host_name_that_does_not_resolve_is_the_suites_own_problem():
    status = Database(lambda: "postgresql://u:pw@scenescout-db.invalid/d", FAST, lambda e: None).connectivity()
    assert (status.ok, status.phase, status.suite_problem) == (False, "dns", True)
    assert "does not resolve" in status.diagnosis


def test_an_impossible_port_is_a_configuration_mistake():
    status = Database(lambda: "postgresql://u:pw@127.0.0.1:99999/d", FAST, lambda e: None).connectivity()
    assert (status.phase, status.suite_problem) == ("configuration", True)


def test_a_port_where_something_else_answers_is_the_suites_own_problem(garbage_server):
    status = Database(lambda: f"postgresql://u:pw@127.0.0.1:{garbage_server}/d", FAST, lambda e: None).connectivity()
    assert (status.ok, status.suite_problem) == (False, True) and status.phase == "tls"
    assert "other than PostgreSQL" in status.diagnosis


@pytest.mark.slow  # waits out a real deadline (about 2 s)
def test_a_silent_server_is_told_apart_from_a_closed_port(silent_server):
    status = Database(lambda: f"postgresql://u:pw@127.0.0.1:{silent_server}/d", FAST, lambda e: None).connectivity()
    assert (status.phase, status.suite_problem) == ("startup", False)  # TCP accepted, no protocol answer


def test_dependent_queries_of_a_blind_database_say_it_was_not_checked():
    db = Database(lambda: "postgresql://u:pw@scenescout-db.invalid/d", FAST, lambda e: None)
    with pytest.raises(Blind, match="database not checked .the suite's own credentials") as raised:
        db.query("connection_saturation")
    assert raised.value.component == "database"


def test_the_upstream_request_carries_the_key_from_the_environment_as_parameter_or_header(monkeypatch):
    from scenescout_ir.core.config import Source
    from scenescout_ir.probes.http import upstream_request

    monkeypatch.setenv("TM_KEY", " tm-1 ")
    monkeypatch.delenv("NO_KEY", raising=False)
    tm = Source("tm", upstream_url="https://api.example/events.json?size=1", api_key_env="TM_KEY")
    assert upstream_request(tm, "") == ("https://api.example/events.json?size=1&apikey=tm-1", {})
    eb = Source("eb", upstream_url="/upstream/eb", api_key_env="TM_KEY", api_key_header="X-Token")
    assert upstream_request(eb, "http://site/app/") == ("http://site/app/upstream/eb", {"X-Token": "tm-1"})
    with pytest.raises(CouldNotRun, match="NO_KEY is not set: export the sk API key"):
        upstream_request(Source("sk", upstream_url="https://sk.example/", api_key_env="NO_KEY"), "")


@pytest.mark.parametrize(("shown", "ms"), [("5s", 5000), ("1500ms", 1500), ("1min", 60000), ("0", 0), ("2h", 7200000),
                                           ("off", None)])
def test_a_time_setting_as_postgresql_shows_it_is_read_in_milliseconds(shown, ms):
    from scenescout_ir.probes.db import _ms

    assert _ms(shown) == ms


def test_the_suites_own_sessions_are_left_out_by_application_name():
    """Through a pooler in transaction mode the suite's transactions run on whichever backend is free: its own
    sessions are told apart by application_name, the name it connects with."""
    from scenescout_ir.probes.db import APPLICATION_NAME, load_query

    for name in ("stuck_transactions", "blocking_locks"):
        assert f"application_name IS DISTINCT FROM '{APPLICATION_NAME}'" in load_query(name)


def test_no_bound_rides_in_the_options_startup_parameter_a_transaction_pooler_refuses():
    from psycopg.conninfo import conninfo_to_dict

    db = Database(lambda: "postgresql://u:pw@db:6432/d?sslmode=disable", FAST, lambda e: None)
    params = conninfo_to_dict(db._conninfo())
    assert "options" not in params and params["application_name"] == "scenescout-ir"
    assert params["sslmode"] == "disable"  # the rest of the DSN as given
    assert "BEGIN READ ONLY; SELECT set_config('statement_timeout', " in db._prologue()
