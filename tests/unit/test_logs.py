"""Reading the recent part of a log: plain and JSON lines, odd files, and never the whole file."""

import json
import os
import pwd
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from scenescout_ir.core.outcomes import CouldNotRun
from scenescout_ir.probes.logs import LogReader, parse_line

NOW = time.time()


def iso(at):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + "Z"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("2026-11-26T20:41:43Z ERROR ingest_meetup: connection refused", True),
        ("2026-11-26T20:41:43Z INFO ingest_meetup: inserted 2 events, 0 errors", False),
        ("[2026-11-26 20:41:43,123] level=error msg=boom", True),
        ("2026/11/26 [error] 123#0: upstream timed out", True),
        ("Traceback (most recent call last):", True),
        ("psycopg.OperationalError: server closed the connection", True),
        ('{"level":50,"time":1764189703000,"msg":"GET /api/events 500"}', True),
        ('{"level":60,"time":1764189703000,"msg":"fatal"}', True),
        ('{"level":30,"time":1764189703000,"msg":"GET / 200 error_count=0"}', False),
        ('{"level":"error","timestamp":"2026-11-26T20:41:43Z"}', True),
        ('{"severity":"WARNING"}', False),
        ("{not json but has ERROR}", True),
        ("\x00\xff\xfe garbage", False),
    ],
)
def test_error_lines_are_recognised(line, error):
    assert parse_line(line).error is error


def test_the_error_search_shortcut_finds_exactly_what_the_patterns_do():
    """Lines without what the error patterns need skip them: the answer is the patterns' own, for every line."""
    import itertools

    from scenescout_ir.probes.logs import _PLAIN_ERROR, _PLAIN_ERROR_CI, plain_error

    parts = ["ERROR", "error", "Error", "ERRORS", "xERROR", "FATAL", "EMERG", "SEVERE", "level=", "LEVEL=",
             "Level='", "crit", "critical", "panic", "[", "]", "[error]", "[CRIT]", "[emerg]", "Traceback",
             "Traceback (most recent call last)", "ValueError:", "Exception:", "KeyError", "[Error]", " ",
             "ok", "INFO ingest_meetup: inserted 2 events"]
    lines = [" ".join(p) for p in itertools.product(parts, repeat=2)] + ["".join(p) for p in
                                                                          itertools.product(parts, repeat=2)]
    for line in lines:
        expected = bool(_PLAIN_ERROR.search(line) or _PLAIN_ERROR_CI.search(line))
        assert plain_error(line) is expected, line


def test_pino_epoch_milliseconds_and_iso_stamps_are_read():
    assert parse_line('{"level":30,"time":1764189703123}').at == pytest.approx(1764189703.123)
    assert parse_line("2025-11-26T20:41:43Z INFO x").at == pytest.approx(1764189703.0)
    assert parse_line("2025-11-26T21:41:43+01:00 INFO x").at == pytest.approx(1764189703.0)


def write_log(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_only_the_window_is_counted(tmp_path):
    old = [f"{iso(NOW - 3600)} ERROR old failure" for _ in range(5000)]  # several read blocks
    recent = [f"{iso(NOW - 60)} INFO fine" for _ in range(18)] + [f"{iso(NOW - 30)} ERROR new failure"] * 2
    scan = LogReader(lambda e: None).scan(write_log(tmp_path / "a.log", old + recent), 900, 1 << 20, now=NOW)
    assert (scan.lines, scan.error_count) == (20, 2)
    assert scan.ratio == pytest.approx(0.1)
    assert scan.bytes_read < (tmp_path / "a.log").stat().st_size  # stopped at the window's start


def test_json_lines_with_pino_levels(tmp_path):
    lines = [json.dumps({"level": 50 if i % 4 == 0 else 30, "time": int((NOW - i) * 1000), "msg": "x"})
             for i in range(40)]
    scan = LogReader(lambda e: None).scan(write_log(tmp_path / "app.log", lines[::-1]), 900, 1 << 20, now=NOW)
    assert (scan.lines, scan.error_count) == (40, 10)


def test_a_file_without_timestamps_is_judged_on_its_last_bytes(tmp_path):
    path = write_log(tmp_path / "plain.log", ["fine"] * 1000 + ["ERROR boom"] * 5)
    scan = LogReader(lambda e: None).scan(path, 900, 200, now=NOW)
    assert not scan.timestamped and scan.truncated
    assert scan.error_count == 5 and scan.bytes_read <= 200


def test_a_huge_line_without_newline_is_reported_not_passed_as_zero_lines(tmp_path):
    path = tmp_path / "huge.log"
    path.write_bytes(b"x" * (20 << 20))  # 20 MB, one line, no newline
    seen = []
    with pytest.raises(CouldNotRun, match=r"huge.log: its last line is longer than the 65536 bytes read"):
        LogReader(seen.append).scan(path, 900, 1 << 16, now=NOW)
    assert f"read 65536 of {20 << 20} bytes" in seen[0].text and "no complete line" in seen[0].text


def test_the_bytes_actually_read_are_reported_not_the_budget(tmp_path):
    path = write_log(tmp_path / "small.log", [f"{iso(NOW)} INFO fine"] * 10)
    seen = []
    scan = LogReader(seen.append).scan(path, 900, 1 << 20, now=NOW)
    assert scan.bytes_read == path.stat().st_size and not scan.truncated
    assert f"read {path.stat().st_size} of {path.stat().st_size} bytes" in seen[0].text


def test_a_file_without_timestamps_says_so_rather_than_naming_a_window(tmp_path):
    seen = []
    LogReader(seen.append).scan(write_log(tmp_path / "plain.log", ["fine", "ERROR boom"]), 900, 1 << 16, now=NOW)
    assert "1 error lines of the last 2 lines (no timestamps found)" in seen[0].text
    assert "in the last 15 min" not in seen[0].text


def test_crlf_lines_are_read_like_lf_lines(tmp_path):
    path = tmp_path / "crlf.log"
    path.write_bytes(f"{iso(NOW - 10)} INFO fine\r\n{iso(NOW - 5)} ERROR boom\r\n".encode())
    scan = LogReader(lambda e: None).scan(path, 900, 1 << 16, now=NOW)
    assert (scan.lines, scan.error_count, scan.timestamped) == (2, 1, True)
    assert not scan.errors[0].text.endswith("\r")


def test_binary_garbage_is_not_a_text_log(tmp_path):
    import random

    path = tmp_path / "core.log"
    path.write_bytes(random.Random(8).randbytes(200_000))
    with pytest.raises(CouldNotRun, match="core.log does not look like a text log"):
        LogReader(lambda e: None).scan(path, 900, 1 << 16, now=NOW)


def test_invalid_utf8_text_is_still_read(tmp_path):
    path = tmp_path / "latin1.log"
    path.write_bytes("ERROR caf\xe9 payment failed\nINFO d\xe9j\xe0 vu\n".encode("latin-1"))
    scan = LogReader(lambda e: None).scan(path, 900, 1 << 16, now=NOW)
    assert (scan.lines, scan.error_count) == (2, 1) and "payment failed" in scan.errors[0].text


def test_a_file_that_cannot_be_opened_could_not_run(tmp_path, monkeypatch):
    from scenescout_ir.probes import logs

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(logs, "open", refuse, raising=False)
    with pytest.raises(CouldNotRun, match="cannot read log file .*: Permission denied"):
        LogReader(lambda e: None).scan(write_log(tmp_path / "a.log", ["x"]), 900, 1024)


@pytest.mark.parametrize("line", ["2026-11-26T20:41:43+9999 ERROR x", "0000-01-01T00:00:00 x",
                                  "0001-01-01T00:00:00 x", '{"time": 1e400}', '{"time": "2026-13-45T99:99:99Z"}'])
def test_odd_timestamps_never_raise(line):
    parsed = parse_line(line)
    assert parsed.text == line and parsed.at is None  # an impossible time is no time, not a traceback


def test_an_empty_file_has_no_errors(tmp_path):
    path = tmp_path / "empty.log"
    path.write_text("")
    seen = []
    assert LogReader(seen.append).scan(path, 900, 1 << 16).lines == 0
    assert "the file is empty" in seen[0].text


def test_missing_directory_and_fifo_could_not_run(tmp_path):
    reader = LogReader(lambda e: None)
    with pytest.raises(CouldNotRun, match="does not exist"):
        reader.scan(tmp_path / "missing.log", 900, 1024)
    with pytest.raises(CouldNotRun, match="not a regular file"):
        reader.scan(tmp_path, 900, 1024)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(CouldNotRun, match="not a regular file"):  # opening it would block forever
        reader.scan(tmp_path / "fifo", 900, 1024)


def test_an_unreadable_file_could_not_run(enterable_dir):
    """Root reads every file, and make test and CI run as root: the scan runs as nobody there."""
    path = write_log(enterable_dir / "secret.log", ["x"])
    path.chmod(0)
    raised = unprivileged(lambda: LogReader(lambda e: None).scan(path, 900, 1024))
    assert raised == f"CouldNotRun: cannot read log file {path}: Permission denied"


@pytest.fixture
def enterable_dir():
    """A directory an unprivileged user can enter (pytest's tmp_path is under root's 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="scenescout-logs-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


def unprivileged(action):
    """What ``action`` raised, as "TypeName: message" ("" if nothing), run without privileges: as the user
    nobody in a forked child when this process is root, else here."""
    if os.geteuid() != 0:
        return _raised(action)
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns of fork() in a threaded process (an xdist worker)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child drops root for good, acts, reports, and exits without running pytest's cleanup
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            os.write(write, _raised(action).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        raised = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child could not become nobody"
    return raised


def _raised(action):
    try:
        action()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def test_matching_lines_are_kept_as_evidence(tmp_path):
    seen = []
    path = write_log(tmp_path / "a.log", [f"{iso(NOW)} INFO ok", f"{iso(NOW)} ERROR payment failed"])
    LogReader(seen.append).scan(path, 900, 1 << 16, now=NOW + 1)
    assert ">> " in seen[0].text and "payment failed" in seen[0].text and "INFO ok" not in seen[0].text


def test_the_error_patterns_are_counted_as_the_playbooks_uniq_c_sort_nr_meant(tmp_path):
    """grep -i error | awk '{print $1, $2}' | uniq -c | sort -nr groups by date and time (every line its own
    group); the evidence groups by what the error says, numbers and ids masked, most frequent first."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30))
    lines = [f"{stamp} ERROR upstream ticketmaster answered 429 after {100 + i} ms" for i in range(6)]
    lines += [f"{stamp} ERROR psycopg.OperationalError: connection to 10.0.0.{i}:5432 refused" for i in range(2)]
    lines += [f"{stamp} INFO ingested {i} events" for i in range(10)]
    log = tmp_path / "application.log"
    log.write_text("\n".join(lines) + "\n")
    kept = []
    LogReader(kept.append).scan(log, 900, 1 << 20)
    (evidence,) = kept
    assert evidence.data["signatures"] == [["upstream ticketmaster answered <n> after <n> ms", 6],
                                           ["psycopg.OperationalError: connection to <ip> refused", 2]]
    assert "      6 upstream ticketmaster answered <n> after <n> ms" in evidence.text


def test_two_checks_of_one_unchanged_window_read_the_file_once_and_a_changed_file_again(tmp_path):
    path = write_log(tmp_path / "app.log", [f"{iso(time.time() - 30)} ERROR boom", f"{iso(time.time())} INFO fine"])
    opened, seen = [], []
    reader = LogReader(seen.append, hook=lambda stage, p: opened.append(stage))
    first = reader.scan(path, 900, 1 << 20)
    assert reader.scan(path, 900, 1 << 20) is first and len(opened) == 1
    assert len(seen) == 2 and seen[0].text == seen[1].text  # each check still keeps the evidence
    reader.scan(path, 300, 1 << 20)  # another window is another scan
    assert len(opened) == 2
    with open(path, "a") as fh:
        fh.write(f"{iso(time.time())} ERROR again\n")
    assert reader.scan(path, 900, 1 << 20).error_count == 2 and len(opened) == 3
    reader.scan(path, 900, 1 << 20, now=time.time())  # a given clock (a test's) is never served a kept scan
    assert len(opened) == 4


def test_a_kept_scan_is_not_served_to_a_later_look_whose_window_moved_on(tmp_path, monkeypatch):
    from scenescout_ir.probes import logs as log_probe

    clock = [5000.0]
    monkeypatch.setattr(log_probe.time, "monotonic", lambda: clock[0])
    path = write_log(tmp_path / "app.log", [f"{iso(time.time() - 30)} ERROR boom"])
    opened = []
    reader = LogReader(lambda e: None, hook=lambda stage, p: opened.append(stage))
    reader.scan(path, 900, 1 << 20)
    clock[0] += log_probe._KEEP_SCAN_S + 1  # a watch's next round, the file unchanged
    reader.scan(path, 900, 1 << 20)
    assert len(opened) == 2


def test_a_log_that_cannot_be_judged_says_so_to_each_check_that_reads_it(tmp_path):
    import random

    path = tmp_path / "core.log"
    path.write_bytes(random.Random(8).randbytes(200_000))
    opened, seen = [], []
    reader = LogReader(seen.append, hook=lambda stage, p: opened.append(stage))
    for _ in range(2):
        with pytest.raises(CouldNotRun, match="core.log does not look like a text log"):
            reader.scan(path, 900, 1 << 16)
    assert len(opened) == 1 and len(seen) == 2
