"""Initial Response: `tail -100 logs/application.log | grep -i error`, as an error rate over a window; and the
errors that say a process ran out of memory, which a low error rate must not hide."""

import re

import pytest

pytestmark = pytest.mark.emergency


@pytest.mark.playbook(
    "tail -100 logs/application.log | grep -i error",
    "tail -100 logs/ingestion.log | grep -i error",
    'grep -A 5 -B 5 -i "error\\|exception\\|failure" logs/application.log | tail -50',
    "grep -i error logs/application.log | awk '{print $1, $2}' | uniq -c | sort -nr",
)
@pytest.mark.condition("log_errors")
def test_recent_log_errors(logs, target, log_file):
    """tail -100 logs/application.log | grep -i error ; tail -100 logs/ingestion.log | grep -i error"""
    limits = target.thresholds
    scan = logs.scan(log_file, limits.log_window_s, limits.log_max_bytes, timezone=target.log_timezone(log_file))
    window = _window(scan, limits.log_window_s)
    latest = scan.errors[-1].text.strip()[:160] if scan.errors else ""
    assert not (scan.error_count >= limits.log_min_errors and scan.ratio >= limits.log_error_ratio), (
        f"{log_file.name}: {scan.error_count} errors in {scan.lines} lines of {window} ({scan.ratio:.0%}; "
        f"limit: {limits.log_error_ratio:.0%} and at least {limits.log_min_errors})"
        + (f"; clock: {scan.clock}" if scan.clock else "") + f"; latest: {latest}"
    )


# Node's "JavaScript heap out of memory", Python's MemoryError, the kernel's and Kubernetes' OOM kill,
# PostgreSQL's "out of memory" (its DETAIL "Failed on request of size ...").
OUT_OF_MEMORY = re.compile(r"heap out of memory|MemoryError|\bout of memory\b|Killed process \d+|OOMKilled", re.I)


@pytest.mark.condition("out_of_memory")
def test_no_process_out_of_memory(logs, target, log_file):
    """A single line saying a process ran out of memory is news: the process restarts (or is gone) and the
    error rate of the window can stay under its limit."""
    limits = target.thresholds
    scan = logs.scan(log_file, limits.log_window_s, limits.log_max_bytes, timezone=target.log_timezone(log_file))
    found = [line.text.strip() for line in scan.errors if OUT_OF_MEMORY.search(line.text)]
    assert not found, (
        f"{log_file.name}: {len(found)} out-of-memory error{'s' if len(found) > 1 else ''} in "
        f"{_window(scan, limits.log_window_s)}; latest: {found[-1][:160]}"
    )


def _window(scan, window_s):
    """What was read, in words: the window of a timestamped log, else its last lines."""
    if scan.timestamped:
        return f"the last {window_s / 60:g} min"
    return f"the last {scan.lines} lines (no timestamps found)"
