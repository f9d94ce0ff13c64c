"""Shared judgements: what a health body says, and how slow is slow."""

import pytest

from scenescout_ir.config import Thresholds
from scenescout_ir.outcomes import Finding
from scenescout_ir.probes.http import HttpResult
from scenescout_ir.rules import check_response_time, classify_connect_error, diagnose_database_error, unhealthy_fields


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


@pytest.mark.parametrize(
    ("error", "phase", "blind"),
    [
        ("DATABASE_URL is not set: export DATABASE_URL=postgresql://USER:PASSWORD@HOST/DB", "configuration", True),
        ("the database DSN is malformed: missing \"=\" after \"x\" in connection info string", "configuration", True),
        ('connection is bad: invalid port number: "99999"', "configuration", True),
        ('connection is bad: invalid integer value "54x" for connection option "port"', "configuration", True),
        ("failed to resolve host 'db.invalid': [Errno -2] Name or service not known", "dns", True),
        ("failed to resolve host 'db.internal': [Errno -3] Temporary failure in name resolution", "dns", True),
        ('connection to server at "127.0.0.1", port 8080 failed: received invalid response to SSL negotiation: H',
         "tls", True),
        ('connection to server at "db", port 5432 failed: server does not support SSL, but SSL was required',
         "tls", True),
        ("connection to server failed: SSL error: certificate verify failed", "tls", True),
        ('connection to server failed: FATAL:  password authentication failed for user "oncall"',
         "authentication", True),
        ('connection to server failed: FATAL:  role "oncal" does not exist', "authentication", True),
        ('connection to server failed: FATAL:  database "scenescot" does not exist', "authentication", True),
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "oncall", database "x", SSL off',
         "authentication", True),
        ("fe_sendauth: no password supplied", "authentication", True),
        ("connection failed: FATAL:  sorry, too many clients already", "startup", False),
        ("FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute", "startup", False),
        ("FATAL:  the database system is shutting down", "startup", False),
        ("FATAL:  the database system is in recovery mode", "startup", False),
        ("server closed the connection unexpectedly", "startup", False),
        ("SSL SYSCALL error: EOF detected", "startup", False),
        ('connection to server at "127.0.0.1", port 1 failed: Connection refused', "tcp", False),
        ("connection timeout expired", "tcp", False),
        ("no answer within 5 s (connect)", "tcp", False),
        ('connection to server at "10.0.0.9", port 5432 failed: No route to host', "tcp", False),
        ("something nobody has seen before", "connect", False),
    ],
)
def test_a_connection_error_names_its_phase_and_whose_problem_it_is(error, phase, blind):
    failure = classify_connect_error(error)
    assert (failure.phase, failure.blind) == (phase, blind)
    assert failure.diagnosis == diagnose_database_error(error)


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
