"""The recent part of a log file, read backwards from its end: the cost is the window, not the file.

Understands plain-text lines (``2026-11-26T20:41:43Z ERROR ...``, ``[error]``, ``level=error``, tracebacks)
and JSON lines (pino's numeric levels: 50 error, 60 fatal; or a string ``level``/``severity``).
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..evidence import Evidence
from ..outcomes import CouldNotRun

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

    @property
    def error_count(self) -> int:
        return len(self.errors)

    @property
    def ratio(self) -> float:
        return self.error_count / self.lines if self.lines else 0.0


def parse_line(text: str) -> LogLine:
    """One line's timestamp and whether it reports an error; never raises on odd input."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            record = None
        if isinstance(record, dict):
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
            return value / 1000.0 if value > 1e11 else float(value)  # pino: epoch milliseconds
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
    except ValueError:
        return None
    if zone:
        zone = "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
        moment = datetime.fromisoformat(f"{date}T{clock}{zone}")
    else:
        moment = moment.astimezone()  # a naive stamp is the machine's local time
    seconds = moment.timestamp()
    if fraction:
        seconds += float("0." + fraction[1:])
    return seconds


def _lines_backwards(fh, size: int, budget: int) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """Yield (line, bytes read so far) from the end of the file towards its start, within a byte budget."""
    position = size
    carry = b""
    read = 0
    while position > 0 and read < budget:
        step = min(BLOCK, position, budget - read)
        position -= step
        fh.seek(position)
        chunk = fh.read(step)
        read += len(chunk)
        parts = (chunk + carry).split(b"\n")
        carry = parts[0]
        for raw in reversed(parts[1:]):
            if raw:
                yield raw.decode("utf-8", errors="replace"), read
    if carry and position == 0:
        yield carry.decode("utf-8", errors="replace"), read


class LogReader:
    def __init__(self, record: Callable[[Evidence], None]) -> None:
        self._record = record

    def scan(self, path: Path, window_s: float, max_bytes: int, now: float | None = None) -> LogScan:
        """The lines of the last ``window_s`` seconds (or the last ``max_bytes`` of an unstamped file)."""
        start = time.monotonic()
        now = time.time() if now is None else now
        since = now - window_s
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise CouldNotRun(f"log file {path} does not exist (set logs in targets.toml)") from None
        except OSError as exc:
            raise CouldNotRun(f"cannot read log file {path}: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise CouldNotRun(f"{path} is not a regular file")
        lines = 0
        errors: list[LogLine] = []
        bytes_read = 0
        stamped = False
        reached_start = False
        try:
            with open(path, "rb") as fh:
                for text, bytes_read in _lines_backwards(fh, info.st_size, max_bytes):  # noqa: B007 (read after)
                    line = parse_line(text)
                    if line.at is not None:
                        stamped = True
                        if line.at < since:
                            reached_start = True
                            break
                    lines += 1
                    if line.error:
                        errors.append(line)
        except OSError as exc:
            raise CouldNotRun(f"cannot read log file {path}: {exc.strerror}") from None
        errors.reverse()
        scan = LogScan(
            path=path, window_s=window_s, lines=lines, errors=errors, bytes_read=bytes_read,
            file_size=info.st_size, timestamped=stamped,
            truncated=not reached_start and bytes_read < info.st_size,
            elapsed_s=time.monotonic() - start,
        )
        self._record(_evidence(scan))
        return scan


def _evidence(scan: LogScan) -> Evidence:
    head = (
        f"{scan.path}: {scan.error_count} error lines of {scan.lines} in the last {scan.window_s / 60:g} min "
        f"({scan.ratio:.1%}); read {scan.bytes_read} of {scan.file_size} bytes from the end "
        f"in {scan.elapsed_s * 1000:.1f} ms" + (" (byte budget reached)" if scan.truncated else "")
    )
    shown = scan.errors[-30:]
    body = "\n".join(f">> {line.text[:500]}" for line in shown)
    return Evidence("log", f"errors in {scan.path.name}", head + ("\n\n" + body if body else ""),
                    {"path": str(scan.path), "lines": scan.lines, "errors": scan.error_count})
