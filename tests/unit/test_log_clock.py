"""Log time and log rotation (issue 15, item 4): timestamps without an offset written in another timezone, and a
log rotated while it is read. Real files, a real second process for the rotation, real `pytest -m emergency` runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scenescout_ir.core.config import load_targets
from scenescout_ir.core.outcomes import ConfigError, CouldNotRun
from scenescout_ir.probes.logs import LogReader, parse_line
from tests.demo_support import _state_dir, run_suite

WINDOW, BUDGET = 900.0, 1 << 20


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process reads naive stamps as its local time: make that UTC, whatever the machine says."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def naive(at: float, zone: str) -> str:
    """A timestamp as a host in ``zone`` writes it with strftime, without an offset."""
    return datetime.fromtimestamp(at, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def burst_log(path: Path, zone: str, now: float, *, errors_at: float = 23.0) -> Path:
    """An hour of quiet INFO lines, then 20 errors from ``errors_at`` seconds ago, as a host in ``zone`` writes
    them; the file's modification time is its newest line's (written then)."""
    lines = [f"{naive(now - 3605 + i * 10, zone)} INFO GET /api/events 200" for i in range(340)]
    lines += [f"{naive(now - errors_at + i, zone)} ERROR GET /api/events 500: pool exhausted" for i in range(20)]
    path.write_text("".join(line + "\n" for line in lines))
    os.utime(path, (now - errors_at + 19, now - errors_at + 19))
    return path


def test_a_timestamp_without_an_offset_is_read_in_the_timezone_set_for_its_log():
    line = parse_line("2026-12-02 10:00:00 ERROR boom", ZoneInfo("America/New_York"))
    assert line.at == datetime.fromisoformat("2026-12-02T15:00:00+00:00").timestamp() and not line.assumed
    assert parse_line("2026-12-02T10:00:00Z ERROR boom", ZoneInfo("America/New_York")).at == (
        datetime.fromisoformat("2026-12-02T10:00:00+00:00").timestamp())  # an offset keeps its own
    assert parse_line('{"time": "2026-12-02 10:00:00", "level": "error"}', ZoneInfo("Asia/Kolkata")).at == (
        datetime.fromisoformat("2026-12-02T04:30:00+00:00").timestamp())
    assert parse_line("2026-12-02 10:00:00 ERROR boom").assumed  # no zone set: read as this machine's time


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_a_burst_written_in_another_timezone_is_found_when_its_timezone_is_set(tmp_path, utc_machine, zone):
    now = float(int(time.time()))
    scan = LogReader(lambda e: None).scan(burst_log(tmp_path / "app.log", zone, now), WINDOW, BUDGET,
                                          now=now, timezone=zone)
    assert (scan.error_count, scan.lines) == (20, 89)  # 69 INFO lines of the last 15 min, then the burst
    assert scan.clock == ""


def test_west_of_utc_without_a_timezone_the_burst_is_judged_with_the_clock_the_file_implies(tmp_path, utc_machine):
    """The case that passed: New York's naive stamps read as UTC look 5 h old, "0 error lines of 0"."""
    now = float(int(time.time()))
    evidence = []
    path = burst_log(tmp_path / "app.log", "America/New_York", now)
    scan = LogReader(evidence.append).scan(path, WINDOW, BUDGET, now=now)
    offset = datetime.fromtimestamp(now, ZoneInfo("America/New_York")).strftime("%z")
    hours = -int(offset[:3])
    assert scan.error_count == 20, evidence[0].text
    assert scan.clock.startswith(f"the newest line reads {hours} h old but the file was written 4 s ago"), scan.clock
    assert "timestamps without an offset read as this machine's local time (UTC+00:00)" in scan.clock
    assert f"judged as UTC{offset[:3]}:{offset[3:]}" in scan.clock and "set timezone for this log" in scan.clock
    assert "clock: the newest line reads" in evidence[0].text


def test_east_of_utc_without_a_timezone_old_errors_do_not_page_and_new_ones_do(tmp_path, utc_machine):
    """Kolkata's naive stamps read as UTC lie 5.5 h in the future: errors of 2 h ago looked current."""
    now = float(int(time.time()))
    old = LogReader(lambda e: None).scan(
        burst_log(tmp_path / "old.log", "Asia/Kolkata", now, errors_at=7200), WINDOW, BUDGET, now=now)
    assert old.error_count == 0 and "UTC+05:30" in old.clock, old.clock
    assert "reads 3 h 30 min in the future but the file was written 2 h ago" in old.clock
    with open(tmp_path / "old.log", "a") as fh:  # and now a burst in the last minutes
        fh.writelines(f"{naive(now - 60 + i, 'Asia/Kolkata')} ERROR upstream 502\n" for i in range(10))
    new = LogReader(lambda e: None).scan(tmp_path / "old.log", WINDOW, BUDGET, now=now)
    assert new.error_count == 10 and "UTC+05:30" in new.clock


def test_a_newest_line_no_timezone_explains_could_not_run_never_a_silent_pass(tmp_path, utc_machine):
    now = float(int(time.time()))
    path = tmp_path / "app.log"
    path.write_text(f"{naive(now - 3 * 86400 - 1234, 'UTC')} ERROR replayed\n" * 30)  # written now, 3 days old
    evidence = []
    with pytest.raises(CouldNotRun) as caught:
        LogReader(evidence.append).scan(path, WINDOW, BUDGET, now=now)
    assert str(caught.value).startswith("app.log: the newest line reads 3 days old but the file was written")
    assert "no timezone's clock fits the difference: set timezone for this log" in str(caught.value)
    assert evidence  # what it saw is kept


def test_lines_with_an_offset_and_a_log_written_in_this_machines_time_are_left_as_they_are(tmp_path, utc_machine):
    now = float(int(time.time()))
    path = tmp_path / "app.log"
    path.write_text("".join(f"{naive(now - 60 + i, 'UTC')} ERROR boom\n" for i in range(6)))
    scan = LogReader(lambda e: None).scan(path, WINDOW, BUDGET, now=now)
    assert scan.error_count == 6 and scan.clock == ""
    iso = datetime.fromtimestamp(now - 3600 * 5, ZoneInfo("America/New_York")).isoformat(timespec="seconds")
    path.write_text(f"{iso} ERROR an hour-old line with its offset\n" * 6)  # 5 h old, truly: not corrected
    scan = LogReader(lambda e: None).scan(path, WINDOW, BUDGET, now=now)
    assert scan.error_count == 0 and scan.clock == ""


def test_a_timezone_set_wrong_is_trusted_and_its_evidence_says_the_file_disagrees(tmp_path, utc_machine):
    now = float(int(time.time()))
    evidence = []
    path = burst_log(tmp_path / "app.log", "UTC", now)
    scan = LogReader(evidence.append).scan(path, WINDOW, BUDGET, now=now, timezone="America/New_York")
    assert scan.error_count == 20  # read 5 h in the future: still inside the window's end, counted
    assert "in the future but the file was written 4 s ago: check the timezone set for this log (America/New_York)" in (
        scan.clock)


# --- the timezone key in targets.toml -------------------------------------------------------------------


def test_logs_take_plain_paths_and_paths_with_a_timezone(tmp_path):
    (tmp_path / "targets.toml").write_text(
        '[targets.t]\nbase_url = "https://x.example"\n'
        'logs = ["logs/a.log", { path = "/var/log/b.log", timezone = "America/New_York" }]\n')
    target = load_targets(tmp_path / "targets.toml")["t"]
    assert target.logs == (tmp_path / "logs/a.log", Path("/var/log/b.log"))
    assert target.log_timezone(Path("/var/log/b.log")) == "America/New_York"
    assert target.log_timezone(tmp_path / "logs/a.log") is None


@pytest.mark.parametrize(("item", "message"), [
    ('{ path = "a.log", timezone = "America/New_Yrok" }',
     "targets.toml: targets.t.logs (a.log): unknown timezone 'America/New_Yrok': use an IANA name like "
     '"America/New_York", "Europe/Berlin" or "UTC"'),
    ('{ path = "a.log", tz = "UTC" }', "targets.toml: targets.t.logs: unknown key 'tz' (known keys: path, timezone)"),
    ('{ timezone = "UTC" }', "needs path ="),
])
def test_a_wrong_log_timezone_is_one_line_of_configuration_error(tmp_path, item, message):
    (tmp_path / "targets.toml").write_text(f'[targets.t]\nbase_url = "https://x.example"\nlogs = [{item}]\n')
    with pytest.raises(ConfigError) as caught:
        load_targets(tmp_path / "targets.toml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


# --- the real check, as the on-call engineer runs it ------------------------------------------------------


@pytest.fixture
def rundir() -> Iterator[Path]:
    path = _state_dir("logclock")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def log_targets(directory: Path, logs: str) -> Path:
    path = directory / "targets.toml"
    lines = ["[targets.t]", 'base_url = "http://127.0.0.1:9"', 'dsn_env = "SCENESCOUT_TEST_UNSET_DSN"',
             "host_checks = false", f"logs = {logs}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_log_check_finds_a_burst_written_west_of_utc_with_and_without_its_timezone(rundir):
    now = float(int(time.time()))
    burst_log(rundir / "app.log", "America/New_York", now)
    with_zone = run_suite("-k", "test_recent_log_errors", "--target", "t", workdir=rundir, env={"TZ": "UTC"},
                          targets=log_targets(rundir, '[{ path = "app.log", timezone = "America/New_York" }]'))
    (finding,) = with_zone.findings("test_recent_log_errors")
    assert finding["summary"].startswith("app.log: 20 errors in "), finding["summary"]
    assert "clock:" not in finding["summary"] and with_zone.exit_code == 1
    offset = datetime.fromtimestamp(now, ZoneInfo("America/New_York")).strftime("%z")
    without = run_suite("-k", "test_recent_log_errors", "--target", "t", workdir=rundir, env={"TZ": "UTC"},
                        targets=log_targets(rundir, '["app.log"]'))
    (finding,) = without.findings("test_recent_log_errors")
    assert finding["summary"].startswith("app.log: 20 errors in "), finding["summary"]
    assert f"clock: the newest line reads {-int(offset[:3])} h old but the file was written" in finding["summary"]
    assert "read as this machine's local time (UTC+00:00)" in finding["summary"]
    assert f"judged as UTC{offset[:3]}:{offset[3:]}" in finding["summary"]
    assert "set timezone for this log" in finding["summary"]


def test_an_unknown_log_timezone_stops_the_run_with_one_line_and_exit_4(rundir):
    run = run_suite("--target", "t", workdir=rundir,
                    targets=log_targets(rundir, '[{ path = "app.log", timezone = "Mars/Olympus" }]'))
    assert run.exit_code == 4, run.output
    assert "unknown timezone 'Mars/Olympus'" in run.output and "Traceback" not in run.output


# --- rotation while the log is read ----------------------------------------------------------------------


def recent(now: float, n: int, level: str = "ERROR", ago: float = 60.0) -> str:
    return "".join(f"{naive(now - ago + i * 0.5, 'UTC')}Z {level} GET /api/events 500\n" for i in range(n))


def test_a_log_rotated_just_before_the_read_is_followed_into_its_previous_file(tmp_path):
    """Renamed to app.log.1 and recreated with one fresh line: the burst is in app.log.1."""
    now = float(int(time.time()))
    (tmp_path / "app.log.1").write_text(recent(now, 300, "INFO", ago=600) + recent(now, 30))
    (tmp_path / "app.log").write_text(recent(now, 1, "INFO", ago=1))
    (tmp_path / "app.log.2.gz").write_bytes(b"\x1f\x8b not read")
    evidence = []
    scan = LogReader(evidence.append).scan(tmp_path / "app.log", WINDOW, BUDGET, now=now)
    assert (scan.error_count, scan.lines) == (30, 331)
    assert "also read" in evidence[0].text and "of app.log.1 (the log before its rotation)" in evidence[0].text


def test_a_previous_file_older_than_the_window_is_not_read(tmp_path):
    now = float(int(time.time()))
    old = tmp_path / "app.log.1"
    old.write_text(recent(now, 30, ago=7200))
    os.utime(old, (now - 7000, now - 7000))
    (tmp_path / "app.log").write_text(recent(now, 1, "INFO", ago=1))
    scan = LogReader(lambda e: None).scan(tmp_path / "app.log", WINDOW, BUDGET, now=now)
    assert (scan.error_count, scan.rotation) == (0, "")


ROTATE = """
import os, sys
path = sys.argv[1]
os.rename(path, path + ".1")  # logrotate's create mode: rename, then a new file at the path
with open(path, "w") as fh:
    fh.write(sys.argv[2])
print("rotated", flush=True)
"""


def test_a_log_rotated_by_another_process_during_the_read_loses_no_line(tmp_path):
    """The reader holds the file open; another process renames it and creates a new one with newer lines,
    between the reader's fstat and its read (the seam). Both the held file's burst and the new lines count."""
    now = float(int(time.time()))
    path = tmp_path / "app.log"
    path.write_text(recent(now, 300, "INFO", ago=600) + recent(now, 30, ago=60))

    def rotate(stage: str, where: Path) -> None:
        assert stage == "opened"
        proc = subprocess.run([sys.executable, "-c", ROTATE, str(where), recent(now, 5, ago=2)],
                              capture_output=True, text=True, check=True)
        assert proc.stdout == "rotated\n"  # the rotation is done before the reader goes on: no sleep

    evidence = []
    scan = LogReader(evidence.append, hook=rotate).scan(path, WINDOW, BUDGET, now=now)
    assert (scan.error_count, scan.lines) == (35, 335), evidence[0].text
    assert "of the new app.log (rotated during the read)" in scan.rotation
    assert (tmp_path / "app.log.1").exists()


def test_a_log_truncated_in_place_during_the_read_is_read_again_from_its_copy(tmp_path):
    """logrotate's copytruncate: copied to app.log.1, then emptied; the reader's file shrinks under it."""
    now = float(int(time.time()))
    path = tmp_path / "app.log"
    path.write_text(recent(now, 3000, "INFO", ago=1600) + recent(now, 30, ago=60))
    done = []

    def copytruncate(stage: str, where: Path) -> None:
        if done:
            return
        done.append(stage)
        shutil.copy2(where, where.with_name("app.log.1"))
        with open(where, "r+") as fh:
            fh.truncate(0)
            fh.write(recent(now, 2, ago=1))

    scan = LogReader(lambda e: None, hook=copytruncate).scan(path, WINDOW, BUDGET, now=now)
    assert (scan.error_count, scan.lines) == (32, 1632), scan  # 1,600 INFO lines of the window, 30 + 2 errors
    assert "app.log.1 (the log before its rotation)" in scan.rotation


@pytest.mark.parametrize("run", range(6))
def test_rotation_at_the_seam_never_loses_the_burst_in_six_runs(tmp_path, run):
    """The issue's 2 of 6: each run rotates at the same controlled point and finds all of it."""
    now = float(int(time.time()))
    path = tmp_path / "app.log"
    path.write_text(recent(now, 50 * (run + 1), "INFO", ago=500) + recent(now, 20, ago=30))

    def rotate(stage: str, where: Path) -> None:
        os.rename(where, where.with_name("app.log.1"))
        where.write_text(recent(now, 1, "INFO", ago=1))

    scan = LogReader(lambda e: None, hook=rotate).scan(path, WINDOW, BUDGET, now=now)
    assert scan.error_count == 20 and scan.lines == 50 * (run + 1) + 21
