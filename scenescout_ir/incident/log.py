"""The incident log: the playbook's "Document Incident Start", "Communication" and "Incident Documentation".

``incidents/incident-YYYYMMDD-HHMM.log`` holds one line per event in the playbook's own shape,
``<date>: <event>``::

    Wed Nov 26 20:55:01 UTC 2025: INCIDENT START - checkout pages answer 500
    Wed Nov 26 20:56:10 UTC 2025: Investigation findings: VERDICT: SEV2 ... - report: ../reports/runs/.../report.html
    Wed Nov 26 20:56:10 UTC 2025: Investigation findings:   SEV2 database: Database connection problems - ...
    Wed Nov 26 21:02:44 UTC 2025: Mitigation attempted: restarted pgbouncer
    Wed Nov 26 21:09:30 UTC 2025: INCIDENT RESOLVED
    Resolution: ...
    Root Cause: ...

An incident is open from its INCIDENT START line until its INCIDENT RESOLVED line; the newest log is the
only one that can be open (the playbook writes a new file name every minute; here every event of one
incident goes to the file it started in). Lines an engineer appends by hand with the playbook's ``echo``
are read like ours, so a log resolved by hand is closed.

Every write takes an exclusive ``fcntl`` lock on the incidents dir and appends with ``O_APPEND`` in one
``write``, so two runs ending at the same moment never interleave or lose a line. Every text written is
passed through the redactor first: a note typed at 3 a.m. may hold a password.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scenescout_ir.judge.verdict import Verdict

INCIDENTS_ENV = "SCENESCOUT_INCIDENTS_DIR"
START = "INCIDENT START - "
RESOLVED = "INCIDENT RESOLVED"
FINDINGS = "Investigation findings: "
MITIGATION = "Mitigation attempted: "
NOTIFIED = "Notification sent: "
RESOLUTION_FIELDS = ("Resolution", "Root Cause", "Duration", "Impact", "Next Steps")

_NAME = re.compile(r"^incident-(\d{8}-\d{4})(?:-(\d+))?\.log$")
_STAMP = "%a %b %d %H:%M:%S UTC %Y"  # what `date -u` prints
_REPORT = re.compile(r" - report: (\S+)$")
_LOCK = ".incidents.lock"

Redact = Callable[[str], str]


class IncidentError(Exception):
    """A one-line problem with the incident log (none open, already open, not writable...)."""


def _plain(text: str) -> str:
    return text


# --- where and when ----------------------------------------------------------------------------------


def incidents_dir(root: Path | None = None) -> Path:
    """``$SCENESCOUT_INCIDENTS_DIR``, else ``<project root>/incidents``."""
    configured = os.environ.get(INCIDENTS_ENV, "").strip()
    if configured:
        return Path(configured).absolute()
    return (root or project_root()) / "incidents"


def project_root(start: Path | None = None) -> Path:
    """The nearest directory holding targets.toml, from the working directory up (else the working directory)."""
    here = (start or Path.cwd()).absolute()
    for candidate in (here, *here.parents):
        if (candidate / "targets.toml").is_file():
            return candidate
    return here


def stamp(at: datetime) -> str:
    """``Wed Nov 26 20:55:01 UTC 2025``: the playbook's ``$(date)``, always in UTC so it reads back exactly."""
    return at.astimezone(UTC).strftime(_STAMP)


def parse_stamp(text: str) -> datetime | None:
    """A line's date: ours, ``date``'s (UTC or the machine's zone), or ISO 8601; None if it is not a date."""
    tokens = text.split()
    if len(tokens) == 6:  # Wed Nov 26 20:55:01 UTC 2025
        try:
            parsed = datetime.strptime(" ".join(tokens[:4] + tokens[5:]), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return None
        if tokens[4] in ("UTC", "GMT", "Z"):
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone()  # another zone name: `date` on this machine, in its local zone
    if len(tokens) != 1:
        return None
    try:
        parsed = datetime.fromisoformat(tokens[0])
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.astimezone()


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading a log -----------------------------------------------------------------------------------


@dataclass
class Event:
    at: datetime
    kind: str  # start | findings | mitigation | notified | resolved | note
    text: str
    details: list[str] = field(default_factory=list)  # undated lines that follow it (the resolution block)


@dataclass
class Incident:
    path: Path
    events: list[Event]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def start(self) -> Event | None:
        return next((e for e in self.events if e.kind == "start"), None)

    @property
    def resolved(self) -> Event | None:
        return next((e for e in self.events if e.kind == "resolved"), None)

    @property
    def is_open(self) -> bool:
        return self.resolved is None

    @property
    def description(self) -> str:
        start = self.start
        return start.text if start else "(no INCIDENT START line)"

    def started_at(self) -> datetime | None:
        start = self.start
        return start.at if start else None

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def resolution(self) -> dict[str, str]:
        """The playbook's resolution block (Resolution, Root Cause, ...) as a dict."""
        block: dict[str, str] = {}
        resolved = self.resolved
        for line in resolved.details if resolved else []:
            key, _, value = line.partition(":")
            if key.strip() in RESOLUTION_FIELDS:
                block[key.strip()] = value.strip()
        return block

    def runs(self) -> list[RunEntry]:
        """The runs recorded while it was open: each verdict line with the finding lines under it."""
        runs: list[RunEntry] = []
        for event in self.of_kind("findings"):
            if event.text.startswith("  ") and runs:
                runs[-1].lines.append(event.text.strip())
                continue
            match = _REPORT.search(event.text)
            headline = _REPORT.sub("", event.text)
            runs.append(RunEntry(at=event.at, headline=headline, report=match.group(1) if match else None))
        return runs


@dataclass
class RunEntry:
    at: datetime
    headline: str  # "VERDICT: SEV2 - High - respond within 30 minutes (...)"
    report: str | None  # relative to the incidents dir
    lines: list[str] = field(default_factory=list)  # the findings, one per line

    @property
    def severity(self) -> str:
        match = re.match(r"VERDICT: (SEV[1-4]|OK|INTERRUPTED|NOT CHECKED)", self.headline)
        return match.group(1) if match else "?"


_KINDS = ((START, "start"), (RESOLVED, "resolved"), (FINDINGS, "findings"), (MITIGATION, "mitigation"),
          (NOTIFIED, "notified"))


def parse(path: Path) -> Incident:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise IncidentError(f"{path} does not exist") from None
    except OSError as exc:
        raise IncidentError(f"cannot read {path}: {exc.strerror}") from None
    events: list[Event] = []
    for line in text.splitlines():
        head, sep, rest = line.partition(": ")
        at = parse_stamp(head) if sep else None
        if at is None:
            if events and line.strip():
                events[-1].details.append(line)
            continue
        if rest.strip() == RESOLVED:
            events.append(Event(at, "resolved", ""))
            continue
        for prefix, kind in _KINDS:
            if rest.startswith(prefix):
                events.append(Event(at, kind, rest[len(prefix):]))
                break
        else:
            events.append(Event(at, "note", rest))
    return Incident(path, events)


def logs(directory: Path) -> list[Path]:
    """Every incident log in the dir, oldest first (the names sort by start time)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.match(p.name)), key=_sort_key)


def _sort_key(path: Path) -> tuple[str, int]:
    match = _NAME.match(path.name)
    assert match
    return match.group(1), int(match.group(2) or 1)


def open_incident(directory: Path) -> Incident | None:
    """The open incident, if any: the newest log, while it has no INCIDENT RESOLVED line."""
    found = logs(directory)
    if not found:
        return None
    newest = parse(found[-1])
    return newest if newest.is_open and newest.start else None


def open_incident_start(directory: Path | None = None) -> datetime | None:
    """When the open incident started (UTC), or None: the default of ``--since`` for the recovery checks."""
    try:
        incident = open_incident(directory or incidents_dir())
    except IncidentError:
        return None
    return incident.started_at() if incident else None


def latest(directory: Path) -> Incident:
    found = logs(directory)
    if not found:
        raise IncidentError(f"no incident log in {directory}: start one with `python -m scenescout_ir incident start`")
    return parse(found[-1])


# --- writing -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the incidents dir, for check-then-write sequences (start, append, resolve)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IncidentError(f"cannot use the incidents dir {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _append(path: Path, lines: list[str], *, create: bool = False) -> None:
    """All the lines in one O_APPEND write under an flock on the file: never interleaved, never lost."""
    data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise IncidentError(f"{path} already exists") from None
    except FileNotFoundError:
        raise IncidentError(f"{path} does not exist") from None
    except OSError as exc:
        raise IncidentError(f"cannot write {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise IncidentError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def start(directory: Path, description: str, *, redact: Redact = _plain, now: datetime | None = None) -> Path:
    """Create ``incident-YYYYMMDD-HHMM.log`` (UTC) with its INCIDENT START line; refuse while one is open."""
    description = _one_line(description)
    if not description:
        raise IncidentError("describe the incident: incident start \"checkout answers 500 since 14:02\"")
    at = now or _now()
    with _locked(directory):
        current = open_incident(directory)
        if current is not None:
            raise IncidentError(
                f"incident {current.path.name} is still open (since {stamp(current.started_at() or at)}): "
                f"resolve it first (incident resolve ...)"
            )
        base = f"incident-{at.astimezone(UTC):%Y%m%d-%H%M}"
        for n in range(1, 100):
            path = directory / (f"{base}.log" if n == 1 else f"{base}-{n}.log")
            if not path.exists():
                break
        _append(path, [f"{stamp(at)}: {START}{redact(description)}"], create=True)
    return path


def _require_open(directory: Path) -> Incident:
    current = open_incident(directory)
    if current is None:
        raise IncidentError(
            f"no open incident in {directory}: start one with `python -m scenescout_ir incident start \"...\"`"
        )
    return current


def note(directory: Path, action: str, *, redact: Redact = _plain, now: datetime | None = None) -> Path:
    """``<date>: Mitigation attempted: <action>`` in the open incident's log."""
    action = _one_line(action)
    if not action:
        raise IncidentError("say what was done: incident note \"restarted pgbouncer\"")
    with _locked(directory):
        current = _require_open(directory)
        _append(current.path, [f"{stamp(now or _now())}: {MITIGATION}{redact(action)}"])
    return current.path


def append_event(directory: Path, lines: list[str], *, redact: Redact = _plain,
                 now: datetime | None = None) -> Path | None:
    """Dated event lines (``Investigation findings: ...``) into the open incident, if there is one."""
    with _locked(directory):
        current = open_incident(directory)
        if current is None:
            return None
        when = stamp(now or _now())
        _append(current.path, [f"{when}: {redact(line.replace(chr(10), ' '))}" for line in lines])
    return current.path


def resolve(directory: Path, *, resolution: str, root_cause: str, impact: str, next_steps: str,
            redact: Redact = _plain, now: datetime | None = None) -> Path:
    """Append the playbook's resolution block; the incident is closed from then on."""
    at = (now or _now()).replace(microsecond=0)  # as the log shows it, so the duration adds up
    given = {"resolution": resolution, "root cause": root_cause, "impact": impact, "next steps": next_steps}
    missing = [k for k, v in given.items() if not _one_line(v)]
    if missing:
        raise IncidentError(f"incident resolve needs --{missing[0].replace(' ', '-')} (use 'unknown' if it is)")
    with _locked(directory):
        current = _require_open(directory)
        begun = current.started_at() or at
        block = [
            f"{stamp(at)}: {RESOLVED}",
            f"Resolution: {redact(_one_line(resolution))}",
            f"Root Cause: {redact(_one_line(root_cause))}",
            f"Duration: {stamp(begun)} to {stamp(at)} ({duration(at - begun)})",
            f"Impact: {redact(_one_line(impact))}",
            f"Next Steps: {redact(_one_line(next_steps))}",
        ]
        _append(current.path, block)
    return current.path


# --- a run's verdict into the log ----------------------------------------------------------------------


def run_lines(verdict: Verdict, *, report: str | None, selection: str = "") -> list[str]:
    """A run's verdict and findings as ``Investigation findings`` lines (the date is added on writing)."""
    counts = verdict.counts
    parts = [f"{counts.get('passed', 0)} passed", f"{counts.get('failed', 0)} found a problem"]
    parts += [f"{counts[k]} {label}" for k, label in (("could_not_run", "could not run"), ("broken", "broken"))
              if counts.get(k)]
    what = f"{verdict.target}{', -m ' + selection if selection else ''}"
    label = verdict.short_headline  # NOT CHECKED - <component> when a component was blind and nothing was found
    headline = f"{FINDINGS}VERDICT: {label} ({what}: {', '.join(parts)})"
    if report:
        headline += f" - report: {report}"
    lines = [headline]
    lines += [f"{FINDINGS}  {str(b['component']).upper()} NOT CHECKED: {_one_line(b['reason'])[:300]}"
              for b in verdict.blind]
    for finding in verdict.findings:
        lines.append(
            f"{FINDINGS}  {finding.severity.name} {finding.component}: {finding.condition} - "
            f"{_one_line(finding.summary)[:300]} ({finding.check})"
        )
    return lines


def duration(delta: Any) -> str:
    """``1 h 12 min``, ``12 min 5 s``, ``40 s``."""
    seconds = int(round(delta.total_seconds() if hasattr(delta, "total_seconds") else float(delta)))
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min {secs} s" if minutes < 10 and secs else f"{sign}{minutes} min"
    return f"{sign}{secs} s"
