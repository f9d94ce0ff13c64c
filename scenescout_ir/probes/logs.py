"""The recent part of a log file, read backwards from its end: the cost is the window, not the file.

Understands plain-text lines (``2026-11-26T20:41:43Z ERROR ...``, ``[error]``, ``level=error``, tracebacks)
and JSON lines (pino's numeric levels: 50 error, 60 fatal; or a string ``level``/``severity``).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO

from scenescout_ir.core.evidence import Evidence
from scenescout_ir.core.outcomes import CouldNotRun
from scenescout_ir.core.signatures import json_record, top_signatures

BLOCK = 64 * 1024

_TIMESTAMP = re.compile(
    r"^\W{0,2}(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})([.,]\d+)?\s?(Z|[+-]\d{2}:?\d{2})?"
)
_PLAIN_ERROR = re.compile(
    r"\b(ERROR|FATAL|CRITICAL|SEVERE|PANIC|EMERG)\b"
    r"|\blevel=[\"']?(error|fatal|crit\w*|panic)\b"
    r"|\[(error|fatal|crit|critical|emerg)\]"
    r"|^Traceback \(most recent call last\)"
    r"|\b[A-Z]\w*(Error|Exception):"
)
_PLAIN_ERROR_CI = re.compile(r"\blevel=[\"']?(error|fatal|crit\w*|panic)\b|\[(error|fatal|crit|critical)\]", re.I)
# what each of those alternatives needs, as plain text: most lines have none of it and are spared the searches
# (about 9 us a line otherwise: a window of a busy log is thousands of lines)
_ERROR_WORDS = ("ERROR", "FATAL", "CRITICAL", "SEVERE", "PANIC", "EMERG")
_ERROR_SHAPES = ("level=", "[", "Traceback", "Error:", "Exception:")
_JSON_ERROR_LEVELS = {"error", "err", "fatal", "critical", "crit", "alert", "emerg", "emergency", "panic"}


@dataclass(frozen=True)
class LogLine:
    text: str
    at: float | None  # epoch seconds, when the line carries a timestamp
    error: bool
    assumed: bool = False  # its timestamp has no offset and no timezone was set: read as this machine's local time


@dataclass(frozen=True)
class LogScan:
    path: Path
    window_s: float
    lines: int  # lines inside the window (or read, for a file without timestamps)
    errors: list[LogLine] = field(default_factory=list)
    bytes_read: int = 0
    file_size: int = 0  # of the files read (the log, and the one it was rotated to when that was read too)
    timestamped: bool = True
    truncated: bool = False  # the byte budget ran out before the window's start
    elapsed_s: float = 0.0
    binary_lines: int = 0  # lines with NUL bytes or mostly not UTF-8
    giant_line: int = 0  # bytes read of a last line longer than the budget (no complete line at all)
    clock: str = ""  # how timestamps without an offset were read, when that was not simply as set or as local time
    rotation: str = ""  # the other files read because the log was rotated ("" when it was not)

    @property
    def error_count(self) -> int:
        return len(self.errors)

    @property
    def ratio(self) -> float:
        return self.error_count / self.lines if self.lines else 0.0


def parse_line(text: str, zone: tzinfo | None = None) -> LogLine:
    """One line's timestamp and whether it reports an error; never raises on odd input. A timestamp without an
    offset is read in ``zone``, or else as this machine's local time (``assumed``)."""
    stripped = text.strip()
    record = json_record(stripped)
    if record is not None:
        at, assumed = _json_time(record, zone)
        return LogLine(text, at, _json_error(record), assumed)
    match = _TIMESTAMP.match(stripped)
    at, assumed = _plain_time(match, zone) if match else (None, False)
    return LogLine(text, at, plain_error(stripped), assumed)


def plain_error(text: str) -> bool:
    """Whether a line that is not JSON reports an error (_PLAIN_ERROR, _PLAIN_ERROR_CI), searched for only where
    the text holds what they need."""
    if (any(word in text for word in _ERROR_WORDS) or any(shape in text for shape in _ERROR_SHAPES)) \
            and _PLAIN_ERROR.search(text):
        return True
    return ("=" in text or "[" in text) and _PLAIN_ERROR_CI.search(text) is not None


def _json_time(record: dict[str, object], zone: tzinfo | None) -> tuple[float | None, bool]:
    for key in ("time", "timestamp", "@timestamp", "ts"):
        value = record.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            seconds = value / 1000.0 if value > 1e11 else float(value)  # pino: epoch milliseconds
            return (seconds if 0 < seconds < 1e11 else None), False  # inf, nan, 1e400: no time, not "always recent"
        if isinstance(value, str):
            match = _TIMESTAMP.match(value)
            if match:
                return _plain_time(match, zone)
    return None, False


def _json_error(record: dict[str, object]) -> bool:
    for key in ("level", "severity", "lvl", "levelname"):
        value = record.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            return value >= 50  # pino/bunyan: 50 error, 60 fatal
        if isinstance(value, str):
            return value.strip().lower() in _JSON_ERROR_LEVELS
    return False


def _plain_time(match: re.Match[str], zone: tzinfo | None) -> tuple[float | None, bool]:
    """Epoch seconds, and whether the stamp had no offset and was read as this machine's local time."""
    date, clock, fraction, offset = match.groups()
    assumed = False
    try:
        moment = datetime.fromisoformat(f"{date}T{clock}")
        if offset:
            offset = "+00:00" if offset == "Z" else (offset if ":" in offset else f"{offset[:3]}:{offset[3:]}")
            moment = datetime.fromisoformat(f"{date}T{clock}{offset}")
        elif zone is not None:
            moment = moment.replace(tzinfo=zone)  # the log's timezone, as targets.toml sets it
        else:
            moment, assumed = moment.astimezone(), True  # a naive stamp, no timezone set: the machine's local time
        seconds = moment.timestamp()
    except (ValueError, OverflowError, OSError):  # year 0, an offset of 99 hours...: not a timestamp
        return None, False
    if fraction:
        seconds += float("0." + fraction[1:])
    return seconds, assumed


class _Reader:
    """Lines from the end of a file towards its start within a byte budget, counting what it really read."""

    def __init__(self, fh: BinaryIO, size: int, budget: int) -> None:
        self.fh, self.size, self.budget = fh, size, budget
        self.bytes_read = 0
        self.reached_file_start = False
        self.shrank = False  # the file got shorter while it was read (truncated in place: copytruncate)
        self.partial = 0  # bytes of a line whose start lies beyond the budget (left unread, never judged)

    def lines(self) -> Iterator[tuple[bytes, str]]:
        """(raw line, text) pairs, the last line first; CRLF endings lose their CR."""
        position = self.size
        carry = b""
        while position > 0 and self.bytes_read < self.budget:
            step = min(BLOCK, position, self.budget - self.bytes_read)
            position -= step
            self.fh.seek(position)
            chunk = self.fh.read(step)
            self.bytes_read += len(chunk)
            if len(chunk) < step:  # the file shrank under us: its lines are elsewhere now (the caller reads again)
                self.shrank = True
                return
            parts = (chunk + carry).split(b"\n")
            carry = parts[0]
            for raw in reversed(parts[1:]):
                raw = raw.removesuffix(b"\r")
                if raw:
                    yield raw, raw.decode("utf-8", errors="replace")
        self.reached_file_start = position == 0
        if carry and self.reached_file_start:
            carry = carry.removesuffix(b"\r")
            yield carry, carry.decode("utf-8", errors="replace")
        else:
            self.partial = len(carry)


def _binary(raw: bytes, text: str) -> bool:
    """A line that is not text: NUL bytes, or mostly bytes that are not UTF-8."""
    return b"\x00" in raw or text.count("\ufffd") * 4 > len(text)


CLOCK_TOLERANCE_S = 600.0  # the newest line may be this far from the file's last write (buffered writers)
_ZONE_STEP_S = 900  # every timezone's offset is a multiple of 15 minutes
_ZONE_FIT_S = 300  # how close to such an offset the difference must be to name a clock
_UNSTAMPED_TAIL = 200  # lines without a timestamp after the newest stamped one (a traceback) still let it be compared
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".z")


class _CannotJudgeClock(Exception):
    pass


class _Window:
    """The lines of the window, fed file by file (newest first), and the clock their timestamps are read with."""

    def __init__(self, since: float, now: float, zone: tzinfo | None, zone_name: str | None) -> None:
        self.since, self.now, self.zone, self.zone_name = since, now, zone, zone_name
        self.lines = self.binary = 0
        self.unstamped_tail = 0  # lines after the newest stamped one (a traceback, say)
        self.stamped = self.reached_start = False
        self.correction: float | None = None  # added to assumed timestamps; None until the newest stamp is seen
        self.clock = ""
        self.errors: list[list[LogLine]] = []  # per file fed, oldest first within each

    def feed(self, reader: _Reader, mtime: float) -> list[LogLine]:
        errors: list[LogLine] = []
        for raw, text in reader.lines():
            line = parse_line(text, self.zone)
            if line.at is not None:
                if self.correction is None:
                    self.correction = self._clock(line, mtime)
                self.stamped = True
                if line.at + (self.correction if line.assumed else 0.0) < self.since:
                    self.reached_start = True
                    break
            self.lines += 1
            self.unstamped_tail += self.correction is None
            self.binary += _binary(raw, text)
            if line.error:
                errors.append(line)
        errors.reverse()
        return errors

    def _clock(self, newest: LogLine, mtime: float) -> float:
        """The correction for timestamps without an offset, from the newest line against the file's last write.

        A log written seconds ago whose newest line reads hours old (or in the future) was written in another
        timezone: the difference, a multiple of 15 minutes, is the clock the file's modification time implies, and
        the lines are judged with it (and the evidence says so). A difference that fits no timezone cannot be
        judged at all (the check could not run, never a silent pass)."""
        assert newest.at is not None
        skew = mtime - newest.at
        if abs(skew) <= CLOCK_TOLERANCE_S:
            return 0.0
        if self.unstamped_tail > _UNSTAMPED_TAIL:  # the last write was not of this line: nothing to compare
            return 0.0
        seen = (f"the newest line reads {_age(self.now - newest.at)} but the file was written "
                f"{_age(max(self.now - mtime, 0.0) if self.now - mtime > -60 else self.now - mtime, ago=True)}")
        if not newest.assumed:
            if self.zone_name and _naive_stamp(newest.text):
                self.clock = f"{seen}: check the timezone set for this log ({self.zone_name})"
            return 0.0
        local = datetime.fromtimestamp(newest.at).astimezone()
        local_offset = (local.utcoffset() or timedelta()).total_seconds()
        assumed = f"timestamps without an offset read as this machine's local time ({_utc(local_offset)})"
        correction = round(skew / _ZONE_STEP_S) * _ZONE_STEP_S
        writer = local_offset - correction
        if abs(skew - correction) > _ZONE_FIT_S or not -12 * 3600 <= writer <= 14 * 3600:
            raise _CannotJudgeClock(f"{seen}; {assumed}, and no timezone's clock fits the difference: set timezone "
                                    "for this log (logs = [{ path = ..., timezone = \"America/New_York\" }])")
        self.clock = (f"{seen}: {assumed} do not match it; judged as {_utc(writer)}, the clock the file's "
                      "modification time implies: set timezone for this log")
        return float(correction)


def _naive_stamp(text: str) -> bool:
    """Whether the line's timestamp is one without an offset (plain, or a JSON line's string time)."""
    record = json_record(text.strip())
    if record is not None:
        value = next((record[k] for k in ("time", "timestamp", "@timestamp", "ts") if k in record), None)
        text = value if isinstance(value, str) else ""
    match = _TIMESTAMP.match(text.strip())
    return bool(match and not match.group(4))


def _utc(offset_s: float) -> str:
    sign = "+" if offset_s >= 0 else "-"
    minutes = int(abs(offset_s)) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _age(seconds: float, ago: bool = False) -> str:
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 90:
        text = f"{seconds:.0f} s"
    elif seconds < 90 * 60:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 86400 * 2:
        hours, minutes = divmod(round(seconds / 60), 60)
        text = f"{hours} h" + (f" {minutes} min" if minutes else "")
    else:
        text = f"{seconds / 86400:.0f} days"
    if future:
        return f"{text} in the future"
    return f"{text} ago" if ago else f"{text} old"


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CouldNotRun(f"unknown timezone {name!r} set for this log") from None


def previous_generation(path: Path, current: os.stat_result, since: float) -> Path | None:
    """The file this log was rotated into, when it may still hold lines of the window: the newest of
    ``app.log.1``, ``app.log-20261202``, ``app.log.2026-12-02`` ... (not compressed, another inode than the file
    read, written since the window's start)."""
    best: tuple[float, Path] | None = None
    try:
        siblings = list(os.scandir(path.parent))
    except OSError:
        return None
    for entry in siblings:
        name = entry.name
        if not name.startswith(path.name) or name == path.name or name[len(path.name)] not in ".-_":
            continue
        if name.lower().endswith(_COMPRESSED):
            continue
        try:
            info = entry.stat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or (info.st_ino, info.st_dev) == (current.st_ino, current.st_dev):
            continue
        if info.st_mtime >= since and (best is None or info.st_mtime > best[0]):
            best = (info.st_mtime, Path(entry.path))
    return best[1] if best else None


# the file's identity, its scan, why it could not be judged, when (time.monotonic())
_Kept = tuple[tuple[int, int, int, int], "LogScan", CouldNotRun | None, float]
_KEEP_SCAN_S = 2.0


def _cannot_judge(path: Path, scan: LogScan, cannot: str, max_bytes: int) -> CouldNotRun | None:
    if cannot:
        return CouldNotRun(f"{path.name}: {cannot}")
    if scan.giant_line:
        return CouldNotRun(
            f"{path.name}: its last line is longer than the {max_bytes} bytes read from its end "
            f"(thresholds.log_max_bytes): no complete line to judge"
        )
    if scan.binary_lines and scan.binary_lines * 2 >= scan.lines:
        return CouldNotRun(f"{path.name} does not look like a text log: {scan.binary_lines} of the {scan.lines} "
                           "lines read are binary (NUL bytes or not UTF-8)")
    return None


class LogReader:
    def __init__(self, record: Callable[[Evidence], None], hook: Callable[[str, Path], None] | None = None) -> None:
        self._record = record
        self._hook = hook or (lambda stage, path: None)  # a seam for tests: called with "opened" after the fstat
        # the last scan of each (file, window, budget, timezone), kept for _KEEP_SCAN_S while the file is unchanged
        # (same inode, size and modification time): two checks judging one log's window read it once; a later
        # look (a watch's next round) reads it again, its window moved on
        self._last: dict[tuple[str, float, int, str | None], _Kept] = {}

    def scan(
        self, path: Path, window_s: float, max_bytes: int, now: float | None = None, timezone: str | None = None,
    ) -> LogScan:
        """The lines of the last ``window_s`` seconds (or the last ``max_bytes`` of an unstamped file).

        Timestamps without an offset are read in ``timezone`` (an IANA name, from targets.toml), or else as this
        machine's local time, corrected when the newest line disagrees with the file's modification time by a
        timezone's offset (said in the evidence). The file is opened once and read through that descriptor; a
        log rotated before or during the read is followed: its previous file is read when the current one is
        shorter than the window, and a file created at its path during the read is read too.

        Raises :class:`CouldNotRun` (after recording what it saw) when the file cannot be judged: missing,
        unreadable, not a regular file, binary content, a last line longer than the byte budget, or timestamps
        whose clock cannot be told.
        """
        start = time.monotonic()
        given_now, now = now, time.time() if now is None else now
        zone = _zone(timezone)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise CouldNotRun(f"log file {path} does not exist (set logs in targets.toml)") from None
        except OSError as exc:
            raise CouldNotRun(f"cannot read log file {path}: {exc.strerror}") from None
        if stat.S_ISDIR(info.st_mode):
            raise CouldNotRun(f"{path} is a directory, not a regular file (set logs in targets.toml)")
        if not stat.S_ISREG(info.st_mode):
            raise CouldNotRun(f"{path} is not a regular file")
        key = (str(path), window_s, max_bytes, timezone)
        seen = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        kept = self._last.get(key) if given_now is None else None
        if kept is not None and kept[0] == seen and start - kept[3] < _KEEP_SCAN_S:
            self._record(_evidence(kept[1]))
            if kept[2] is not None:
                raise CouldNotRun(str(kept[2])) from None
            return kept[1]
        try:
            scan, cannot = self._scan(path, window_s, max_bytes, now, zone, timezone)
            if scan is None:  # truncated in place while read (copytruncate): once more, from what is there now
                scan, cannot = self._scan(path, window_s, max_bytes, now, zone, timezone, last=True)
        except FileNotFoundError:
            raise CouldNotRun(f"log file {path} does not exist (set logs in targets.toml)") from None
        except OSError as exc:
            raise CouldNotRun(f"cannot read log file {path}: {exc.strerror}") from None
        assert scan is not None
        scan = replace(scan, elapsed_s=time.monotonic() - start)
        self._record(_evidence(scan))
        problem = _cannot_judge(path, scan, cannot, max_bytes)
        if given_now is None:
            self._last[key] = (seen, scan, problem, start)
        if problem is not None:
            raise problem
        return scan

    def _scan(
        self, path: Path, window_s: float, max_bytes: int, now: float, zone: tzinfo | None, zone_name: str | None,
        last: bool = False,
    ) -> tuple[LogScan | None, str]:
        window = _Window(now - window_s, now, zone, zone_name)
        cannot = ""
        rotation: list[str] = []
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise OSError(0, "not a regular file any more")
            self._hook("opened", path)
            reader = _Reader(fh, info.st_size, max_bytes)
            try:
                held = window.feed(reader, info.st_mtime)
            except _CannotJudgeClock as exc:
                held, cannot = [], str(exc)
        if reader.shrank and not last:
            return None, ""
        bytes_read, size, older, newer = reader.bytes_read, info.st_size, [], []
        truncated = not window.reached_start and not reader.reached_file_start
        previous = None
        if not cannot and not window.reached_start and reader.reached_file_start and bytes_read < max_bytes:
            previous = previous_generation(path, info, now - window_s)
        if previous is not None:  # rotated just before: the window goes on in the file it was renamed to
            with open(previous, "rb") as fh:
                before = os.fstat(fh.fileno())
                more = _Reader(fh, before.st_size, max_bytes - bytes_read)
                with contextlib.suppress(_CannotJudgeClock):
                    older = window.feed(more, before.st_mtime)
            bytes_read, size = bytes_read + more.bytes_read, size + before.st_size
            truncated = not window.reached_start and not more.reached_file_start
            rotation.append(f"{more.bytes_read} bytes of {previous.name} (the log before its rotation)")
        try:
            now_info = os.stat(path)
        except OSError:
            now_info = None
        if not cannot and now_info is not None and stat.S_ISREG(now_info.st_mode) and (
                (now_info.st_ino, now_info.st_dev) != (info.st_ino, info.st_dev)):
            with open(path, "rb") as fh:  # rotated during the read: the new file at its path has the newest lines
                fresh = os.fstat(fh.fileno())
                more = _Reader(fh, fresh.st_size, max_bytes)
                with contextlib.suppress(_CannotJudgeClock):
                    newer = window.feed(more, fresh.st_mtime)
            bytes_read, size = bytes_read + more.bytes_read, size + fresh.st_size
            rotation.append(f"{more.bytes_read} bytes of the new {path.name} (rotated during the read)")
        scan = LogScan(
            path=path, window_s=window_s, lines=window.lines, errors=[*older, *held, *newer], bytes_read=bytes_read,
            file_size=size, timestamped=window.stamped, truncated=truncated,
            binary_lines=window.binary, giant_line=reader.partial if not window.lines else 0,
            clock=window.clock, rotation="; ".join(rotation),
        )
        return scan, cannot


def _evidence(scan: LogScan) -> Evidence:
    if scan.file_size == 0:
        window = "the file is empty"
    elif scan.giant_line:
        window = f"no complete line: the last line is longer than the {scan.bytes_read} bytes read"
    elif scan.timestamped:
        window = f"{scan.error_count} error lines of {scan.lines} in the last {scan.window_s / 60:g} min"
    else:
        window = f"{scan.error_count} error lines of the last {scan.lines} lines (no timestamps found)"
    head = (
        f"{scan.path}: {window} ({scan.ratio:.1%}); read {scan.bytes_read} of {scan.file_size} bytes from the end "
        f"in {scan.elapsed_s * 1000:.1f} ms" + (" (byte budget reached)" if scan.truncated else "")
        + (f"; {scan.binary_lines} binary lines" if scan.binary_lines else "")
        + (f"; also read {scan.rotation}" if scan.rotation else "")
        + (f"\nclock: {scan.clock}" if scan.clock else "")
    )
    shown = scan.errors[-30:]
    body = "\n".join(f">> {line.text[:500]}" for line in shown)
    patterns = top_signatures(line.text for line in scan.errors)  # grep -i error | uniq -c | sort -nr, done right
    if patterns:
        body = "error patterns (count, message with numbers, ids and times masked):\n" + "\n".join(
            f"{count:>7} {sig}" for sig, count in patterns) + ("\n\nthe latest errors:\n" + body if body else "")
    return Evidence("log", f"errors in {scan.path.name}", head + ("\n\n" + body if body else ""),
                    {"path": str(scan.path), "file": scan.path.name, "lines": scan.lines, "errors": scan.error_count,
                     "bytes_read": scan.bytes_read, "file_size": scan.file_size, "timestamped": scan.timestamped,
                     "clock": scan.clock, "rotation": scan.rotation,
                     "signatures": [[sig, count] for sig, count in patterns]})
