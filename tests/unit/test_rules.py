"""Shared judgements: what a health body says, and how slow is slow."""

import pytest

from scenescout_ir.config import Thresholds
from scenescout_ir.outcomes import Finding
from scenescout_ir.probes.http import HttpResult
from scenescout_ir.rules import check_response_time, unhealthy_fields


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
    assert minor.value.condition == "slow_site" and "/api/health took 2.5 s (SLO: 2 s)" in str(minor.value)
    with pytest.raises(Finding) as major:
        check_response_time(result(10.5), limits)
    assert major.value.condition == "significant_degradation"
