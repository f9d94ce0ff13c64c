"""Visible retries: the checks that can flake get more attempts (pytest-rerunfailures), and a check that
failed and then passed is FLAKY, never silently OK.

Opt-in: ``--retries N`` (env ``SCENESCOUT_RETRIES``) or ``[targets.X.retries] count = N`` gives each check
matching ``checks`` (default: the browser checks, ``checks/test_browser.py``) up to N more attempts after a
failed one, through pytest-rerunfailures' ``flaky`` marker. In a run of emergency checks only it stays off
(the verdict in seconds comes first) unless ``--retries`` is given or ``emergency = true``.

Every attempt is kept: pytest-rerunfailures reports a failed attempt as ``rerun``; its record (finding and
evidence) is kept apart from the final one (plugin.py), and a check whose final attempt passed after a failed
one is listed as FLAKY with every attempt's evidence in the verdict block and verdict.json ``flaky``; Allure
shows the attempts as the result's retries (one result per attempt, same history id). Exit code of a run
whose only problem is a FLAKY check: 0, or 7 (``EXIT_FLAKY``) with ``--flaky-fails`` / ``flaky_fails = true``.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any

import pytest

from scenescout_ir.judge.verdict import FAILED, PASSED, CheckRecord

FLAKY = "FLAKY"
EXIT_FLAKY = 7  # a run without findings in which a check passed only on a retry, when the gate asks for it
RETRIES_ENV = "SCENESCOUT_RETRIES"
FLAKY_FAILS_ENV = "SCENESCOUT_FLAKY_FAILS"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scenescout")
    group.addoption(
        "--retries", default=os.environ.get(RETRIES_ENV) or None, metavar="N",
        help=f"more attempts for a failed check that may flake (targets.X.retries.checks; default: the browser "
             f"checks), also in an emergency run; a check that passes on a retry is FLAKY (env {RETRIES_ENV}; "
             "default: targets.X.retries.count, off in an emergency-only run)",
    )
    group.addoption(
        "--flaky-fails", action="store_true", default=os.environ.get(FLAKY_FAILS_ENV, "") not in ("", "0"),
        help=f"a run whose only problem is a FLAKY check exits {EXIT_FLAKY} instead of 0 (env {FLAKY_FAILS_ENV}; "
             "default: targets.X.retries.flaky_fails)",
    )


def retry_count(config: pytest.Config, target: Any, emergency_only: bool) -> int:
    given = config.getoption("retries", default=None)
    if given not in (None, ""):
        try:
            count = int(given)
        except ValueError:
            raise pytest.UsageError(f"--retries must be a whole number of attempts like 1, got {given!r}") from None
        if count < 0:
            raise pytest.UsageError(f"--retries must be 0 or more, got {given!r}")
        return count
    if emergency_only and not target.retries.emergency:
        return 0
    return int(target.retries.count)


def retried(item: pytest.Item, patterns: tuple[str, ...]) -> bool:
    return any(item.nodeid.startswith(p) or fnmatch.fnmatchcase(item.name, p)
               or fnmatch.fnmatchcase(item.name.split("[", 1)[0], p) for p in patterns)


def mark_items(config: pytest.Config, target: Any, items: list[pytest.Item], emergency_only: bool) -> int:
    """pytest-rerunfailures' marker on every check the policy retries; returns the retry count."""
    count = retry_count(config, target, emergency_only)
    if count:
        for item in items:
            if retried(item, target.retries.checks) and item.get_closest_marker("flaky") is None:
                item.add_marker(pytest.mark.flaky(reruns=count))
    return count


def flaky_fails(config: pytest.Config, target: Any) -> bool:
    return bool(config.getoption("flaky_fails", default=False) or target.retries.flaky_fails)


def flaky(records: list[CheckRecord], attempts: dict[str, list[CheckRecord]]) -> list[dict[str, Any]]:
    """Each check that passed after failed attempts, with every attempt (its finding and its evidence)."""
    out = []
    for record in records:
        earlier = attempts.get(record.nodeid, [])
        if record.outcome != PASSED or not earlier:
            continue
        tries = [*earlier, record]
        out.append({
            "check": record.check, "nodeid": record.nodeid, "condition": record.condition,
            "summary": f"failed {len(earlier)} of {len(tries)} attempts, then passed: {earlier[-1].summary}",
            "attempts": [{"attempt": i, "outcome": r.outcome, "summary": r.summary, "duration_s": r.duration_s,
                          "evidence": r.evidence} for i, r in enumerate(tries, 1)],
        })
    return out


def failed_every_attempt(record: CheckRecord, attempts: dict[str, list[CheckRecord]]) -> CheckRecord:
    """A check that failed on every attempt: its finding says so (the evidence is the last attempt's)."""
    earlier = attempts.get(record.nodeid, [])
    if record.outcome != FAILED or not earlier:
        return record
    from dataclasses import replace

    return replace(record, summary=f"{record.summary} (failed on all {len(earlier) + 1} attempts)")
