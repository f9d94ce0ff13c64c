"""The out-of-memory check (checks/test_logs.py ``test_no_process_out_of_memory``), run as the on-call engineer
runs it over a log: one line saying a process ran out of memory is a SEV2 finding even where the error rate
stays under its limit (one error in a hundred lines); the same log without it, or with it older than the
window, passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.demo_support import ROOT
from tests.forkserver import runpytest_forked

CHECK = "test_no_process_out_of_memory"


def stamp(ago_s: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=ago_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_check(pytester: pytest.Pytester, last_line: str, first_line: str | None = None, stamped: bool = True) -> dict:
    log = pytester.path / "application.log"
    lines = [f"{stamp(300 - i) + ' ' if stamped else ''}INFO GET /api/events 200" for i in range(99)]
    log.write_text("\n".join([*([first_line] if first_line else []), *lines, last_line]) + "\n")
    targets = pytester.path / "targets.toml"
    targets.write_text(f'[targets.app]\nbase_url = "http://127.0.0.1:9"\ndatabase = false\nhost_checks = false\n'
                       f'logs = ["{log}"]\n')
    verdict = pytester.path / "verdict.json"
    runpytest_forked(pytester, str(ROOT / "checks" / "test_logs.py"), f"--targets-file={targets}", "--target=app",
                     f"--verdict-file={verdict}", "-k", CHECK)
    return json.loads(verdict.read_text())


@pytest.mark.parametrize("line", [
    "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",  # Node
    "ERROR worker 3 crashed: MemoryError: Unable to allocate 512. MiB",  # Python
    'level=error msg="container ingest_eventbrite OOMKilled"',  # Kubernetes
])
def test_one_out_of_memory_line_is_a_sev2_finding(pytester, line):
    verdict = run_check(pytester, f"{stamp(10)} {line}")
    (finding,) = verdict["findings"]
    assert verdict["severity"] == "SEV2" and finding["condition_key"] == "out_of_memory", verdict
    assert finding["check"].startswith(CHECK) and "1 out-of-memory error in the last 15 min" in finding["summary"]
    assert line[:40] in finding["summary"]


@pytest.mark.parametrize("last", [
    "INFO GET /api/events 200",  # healthy
    "ERROR GET /api/events 502 upstream timed out",  # an error, not memory
], ids=["healthy", "another-error"])
def test_without_an_out_of_memory_line_the_check_passes(pytester, last):
    verdict = run_check(pytester, f"{stamp(10)} {last}")
    assert verdict["severity"] == "OK" and verdict["counts"]["passed"] == 1, verdict


def test_an_out_of_memory_line_older_than_the_window_passes(pytester):
    verdict = run_check(pytester, f"{stamp(10)} INFO GET /api/events 200",
                        first_line=f"{stamp(16 * 60)} FATAL ERROR: JavaScript heap out of memory")
    assert verdict["severity"] == "OK" and verdict["counts"]["passed"] == 1, verdict


def test_a_log_without_timestamps_is_read_by_its_last_lines_and_says_so(pytester):
    """A real deployment's log may carry no time at all (a process's plain stderr): its last lines are read."""
    verdict = run_check(pytester, "FATAL ERROR: Reached heap limit - JavaScript heap out of memory", stamped=False)
    (finding,) = verdict["findings"]
    assert verdict["severity"] == "SEV2", verdict
    assert "1 out-of-memory error in the last 100 lines (no timestamps found)" in finding["summary"], finding
