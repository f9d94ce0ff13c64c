"""The recent part of a log file, read backwards from its end: the cost is the window, not the file.

Understands plain-text lines (``2026-11-26T20:41:43Z ERROR ...``, ``[error]``, ``level=error``, tracebacks)
and JSON lines (pino's numeric levels: 50 error, 60 fatal; or a string ``level``/``severity``).
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from ..evidence import Evidence
from ..outcomes import CouldNotRun
from ..signatures import json_record, top_signatures

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
_JSON_ERROR_LEVELS = {"error", "err", "fatal", "critical", "crit", "alert", "emerg", "emergency", "panic"}


@dataclass(frozen=True)
class LogLine:
    text: str
    at: float | None  # epoch seconds, when the line carries a timestamp
    error: bool


@dataclass(frozen=True)
class LogScan:
    path: Path
    window_s: float
    lines: int  # lines inside the window (or read, for a file without timestamps)
    errors: list[LogLine] = field(default_factory=list)
    bytes_read: int = 0
    file_size: int = 0
    timestamped: bool = True
    truncated: bool = False  # the byte budget ran out before the window's start
    elapsed_s: float = 0.0
    binary_lines: int = 0  # lines with NUL bytes or mostly not UTF-8
    giant_line: int = 0  # bytes read of a last line longer than the budget (no complete line at all)

    @property
    def error_count(self) -> int:
        return len(self.errors)

    @property
    def ratio(self) -> float:
        return self.error_count / self.lines if self.lines else 0.0


def parse_line(text: str) -> LogLine:
    """One line's timestamp and whether it reports an error; never raises on odd input."""
    stripped = text.strip()
    record = json_record(stripped)
    if record is not None:
        return LogLine(text, _json_time(record), _json_error(record))
    match = _TIMESTAMP.match(stripped)
    at = _plain_time(match) if match else None
    error = bool(_PLAIN_ERROR.search(stripped) or _PLAIN_ERROR_CI.search(stripped))
    return LogLine(text, at, error)


def _json_time(record: dict[str, object]) -> float | None:
    for key in ("time", "timestamp", "@timestamp", "ts"):
        value = record.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            seconds = value / 1000.0 if value > 1e11 else float(value)  # pino: epoch milliseconds
            return seconds if 0 < seconds < 1e11 else None  # inf, nan, 1e400: no time, not "always recent"
        if isinstance(value, str):
            match = _TIMESTAMP.match(value)
            if match:
                return _plain_time(match)
    return None


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


def _plain_time(match: re.Match[str]) -> float | None:
    date, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{date}T{clock}")
        if zone:
            zone = "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
            moment = datetime.fromisoformat(f"{date}T{clock}{zone}")
        else:
            moment = moment.astimezone()  # a naive stamp is the machine's local time
        seconds = moment.timestamp()
    except (ValueError, OverflowError, OSError):  # year 0, an offset of 99 hours...: not a timestamp
        return None
    if fraction:
        seconds += float("0." + fraction[1:])
    return seconds


class _Reader:
    """Lines from the end of a file towards its start within a byte budget, counting what it really read."""

    def __init__(self, fh: BinaryIO, size: int, budget: int) -> None:
        self.fh, self.size, self.budget = fh, size, budget
        self.bytes_read = 0
        self.reached_file_start = False
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
            parts = (chunk + carry).split(b"\n")
            carry = parts[0]
            for raw in reversed(parts[1:]):
                raw = raw.removesuffix(b"\r")
                if raw:
                    yield raw, raw.decode("utf-8", errors="replace")
            if not chunk:  # the file shrank under us (rotated or truncated): what was read is what there is
                break
        self.reached_file_start = position == 0
        if carry and self.reached_file_start:
            carry = carry.removesuffix(b"\r")
            yield carry, carry.decode("utf-8", errors="replace")
        else:
            self.partial = len(carry)


def _binary(raw: bytes, text: str) -> bool:
    """A line that is not text: NUL bytes, or mostly bytes that are not UTF-8."""
    return b"\x00" in raw or text.count("\ufffd") * 4 > len(text)


class LogReader:
    def __init__(self, record: Callable[[Evidence], None]) -> None:
        self._record = record

    def scan(self, path: Path, window_s: float, max_bytes: int, now: float | None = None) -> LogScan:
        """The lines of the last ``window_s`` seconds (or the last ``max_bytes`` of an unstamped file).

        Raises :class:`CouldNotRun` (after recording what it saw) when the file cannot be judged: missing,
        unreadable, not a regular file, binary content, or a last line longer than the byte budget.
        """
        start = time.monotonic()
        now = time.time() if now is None else now
        since = now - window_s
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
        lines = binary = 0
        errors: list[LogLine] = []
        stamped = False
        reached_start = False
        try:
            with open(path, "rb") as fh:
                reader = _Reader(fh, info.st_size, max_bytes)
                for raw, text in reader.lines():
                    line = parse_line(text)
                    if line.at is not None:
                        stamped = True
                        if line.at < since:
                            reached_start = True
                            break
                    lines += 1
                    binary += _binary(raw, text)
                    if line.error:
                        errors.append(line)
        except OSError as exc:
            raise CouldNotRun(f"cannot read log file {path}: {exc.strerror}") from None
        errors.reverse()
        scan = LogScan(
            path=path, window_s=window_s, lines=lines, errors=errors, bytes_read=reader.bytes_read,
            file_size=info.st_size, timestamped=stamped,
            truncated=not reached_start and not reader.reached_file_start,
            elapsed_s=time.monotonic() - start, binary_lines=binary,
            giant_line=reader.partial if not lines else 0,
        )
        self._record(_evidence(scan))
        if scan.giant_line:
            raise CouldNotRun(
                f"{path.name}: its last line is longer than the {max_bytes} bytes read from its end "
                f"(thresholds.log_max_bytes): no complete line to judge"
            )
        if binary and binary * 2 >= lines:
            raise CouldNotRun(f"{path.name} does not look like a text log: {binary} of the {lines} lines read are "
                              "binary (NUL bytes or not UTF-8)")
        return scan


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
                     "signatures": [[sig, count] for sig, count in patterns]})
