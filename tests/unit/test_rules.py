"""Shared judgements: what a health body says, and how slow is slow."""

import pytest

from scenescout_ir.core.config import Thresholds
from scenescout_ir.core.outcomes import Finding
from scenescout_ir.judge.health import unhealthy_fields
from scenescout_ir.judge.response_times import check_response_time
from scenescout_ir.probes.connect_errors import classify_connect_error, diagnose_database_error
from scenescout_ir.probes.http import HttpResult


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({"status": "ok", "database": "up"}, []),
        ({"status": "degraded", "database": "down"}, ["status=degraded", "database=down"]),
        ({"status": "ok", "checks": {"db": "fail"}}, ["checks.db=fail"]),
        ({"healthy": False}, ["healthy=false"]),
        ({"message": "down for maintenance"}, []),
        ("OK", []),
        (None, []),
        ([1, 2], []),
    ],
)
def test_unhealthy_fields(body, problems):
    assert unhealthy_fields(body) == problems


def result(elapsed):
    return HttpResult("GET", "http://h/api/health", 200, elapsed)


def test_response_time_lines():
    limits = Thresholds(response_slo_s=2, response_sev2_s=10)
    check_response_time(result(1.9), limits)
    with pytest.raises(Finding) as minor:
        check_response_time(result(2.5), limits)
    assert minor.value.condition == "slow_site" and "/api/health is slow: 2.5 s (SLO: 2 s)" in str(minor.value)
    with pytest.raises(Finding) as major:
        check_response_time(result(10.5), limits)
    assert major.value.condition == "significant_degradation" and "/api/health is slow: 10.5 s" in str(major.value)


# What a person reads for each kind of connection failure, written out (the table in connect_errors.py is tested)
DSN_WRONG = "the DSN itself is wrong (unset, malformed, or an impossible port or option)"
NO_SUCH_HOST = ("the DSN's host name does not resolve: most likely a typo in it (or the suite's name server is "
                "unreachable)")
NOT_POSTGRES = "something other than PostgreSQL answers on that port: the DSN's port is most likely wrong"
TLS_MISMATCH = "the TLS handshake failed: the DSN's sslmode/sslrootcert do not match the server"
REFUSED = "the credentials are refused (a rotated password or a wrong role)"
NO_SUCH_NAME = "the database or role named in the DSN does not exist"
DROPPED = "the server (or a proxy in front of it) accepts and drops connections"
FULL = "every connection slot is taken"
SHUTTING_DOWN = "the server is shutting down"
STARTING = "the server is starting up or in recovery"
DOWN = "nothing listens on the database port: the server is down"
SILENT = "the server does not answer in time: hung, overloaded, or the network drops packets"
NO_NETWORK = "the network to the database is down"
POOLER_PARAM = ("the connection pooler refuses a startup parameter of the DSN (such as options=...): remove it from "
                "the DSN (the suite sets its own bounds in each transaction) or add it to the pooler's "
                "ignore_startup_parameters")
POOLER_DB = ("the connection pooler does not know the DSN's database (or user): name a database of its [databases] "
             "section (Supavisor: the user as user.project-ref)")


@pytest.mark.parametrize(
    ("error", "phase", "blind", "diagnosis"),
    [
        ("DATABASE_URL is not set: export DATABASE_URL=postgresql://USER:PASSWORD@HOST/DB", "configuration", True,
         DSN_WRONG),
        ("the database DSN is malformed: missing \"=\" after \"x\" in connection info string", "configuration", True,
         DSN_WRONG),
        ('connection is bad: invalid port number: "99999"', "configuration", True, DSN_WRONG),
        ('connection is bad: invalid integer value "54x" for connection option "port"', "configuration", True,
         DSN_WRONG),
        ("failed to resolve host 'db.invalid': [Errno -2] Name or service not known", "dns", True, NO_SUCH_HOST),
        ("failed to resolve host 'db.internal': [Errno -3] Temporary failure in name resolution", "dns", True,
         NO_SUCH_HOST),
        ('connection to server at "127.0.0.1", port 8080 failed: received invalid response to SSL negotiation: H',
         "tls", True, NOT_POSTGRES),
        ('connection to server at "db", port 5432 failed: server does not support SSL, but SSL was required',
         "tls", True, TLS_MISMATCH),
        ("connection to server failed: SSL error: certificate verify failed", "tls", True, TLS_MISMATCH),
        ('connection to server failed: FATAL:  password authentication failed for user "oncall"',
         "authentication", True, REFUSED),
        ('connection to server failed: FATAL:  role "oncal" does not exist', "authentication", True, NO_SUCH_NAME),
        ('connection to server failed: FATAL:  database "scenescot" does not exist', "authentication", True,
         NO_SUCH_NAME),
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "oncall", database "x", SSL off',
         "authentication", True, REFUSED),
        ("fe_sendauth: no password supplied", "authentication", True, REFUSED),
        ("connection failed: FATAL:  sorry, too many clients already", "startup", False, FULL),
        ("FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute", "startup", False,
         FULL),
        ("FATAL:  the database system is shutting down", "startup", False, SHUTTING_DOWN),
        ("FATAL:  the database system is in recovery mode", "startup", False, STARTING),
        ("server closed the connection unexpectedly", "startup", False, DROPPED),
        ("SSL SYSCALL error: EOF detected", "startup", False, DROPPED),
        ('connection to server at "127.0.0.1", port 1 failed: Connection refused', "tcp", False, DOWN),
        ("connection timeout expired", "tcp", False, SILENT),
        ("no answer within 5 s (connect)", "tcp", False, SILENT),
        ('connection to server at "10.0.0.9", port 5432 failed: No route to host', "tcp", False, NO_NETWORK),
        ("something nobody has seen before", "connect", False, "the connection failed"),
        ('connection to server at "127.0.0.1", port 6432 failed: FATAL:  unsupported startup parameter: options',
         "pooler", True, POOLER_PARAM),
        ('connection to server at "127.0.0.1", port 6432 failed: FATAL:  no such database: scenescot', "pooler", True,
         POOLER_DB),
        ("FATAL:  Tenant or user not found", "pooler", True, POOLER_DB),
    ],
)
def test_a_connection_error_names_its_phase_and_whose_problem_it_is(error, phase, blind, diagnosis):
    failure = classify_connect_error(error)
    assert (failure.phase, failure.blind, failure.diagnosis) == (phase, blind, diagnosis)
    assert diagnose_database_error(error) == diagnosis


@pytest.mark.parametrize(
    "error",
    ['connection is bad: invalid sslmode value: "bogus"', 'connection is bad: invalid target_session_attrs value: "x"',
     'invalid URI query parameter: "foo"'],
)
def test_an_impossible_dsn_option_is_configuration(error):
    assert classify_connect_error(error).phase == "configuration"


def test_a_connection_is_bad_prefix_does_not_hide_a_refused_port():
    failure = classify_connect_error('connection is bad: connection to server at "h", port 5 failed: '
                                     'Connection refused')
    assert (failure.phase, failure.blind) == ("tcp", False)


def test_the_readmes_phase_table_names_every_phase_a_connection_failure_can_have():
    """README's "A database the suite cannot log in to" table: one row per phase the code can report (the rules'
    phases, the fallback one, and "first query", which the database probe sets itself)."""
    from pathlib import Path

    from scenescout_ir.probes import connect_errors

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("| phase | examples | verdict |", 1)[1].split("\n\n", 1)[0]
    documented = {line.split("|")[1].strip() for line in table.splitlines()[2:] if line.startswith("|")}
    reported = {phase for _, phase, _, _ in connect_errors._CONNECT_FAILURES} | {classify_connect_error("?").phase,
                                                                       "first query"}
    assert documented == reported
