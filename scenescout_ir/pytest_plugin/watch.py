"""Watch until it is fixed: ``pytest -m emergency --watch 30s`` re-runs the same checks every interval.

It stops when the verdict has been OK for ``--watch-ok`` runs in a row (default 2) or after ``--watch-max``
(default 2 h). One run at a time, never overlapping; between runs it prints only what changed (new and
cleared findings, severity moves); each run appends itself to the open incident log as any run does; it
ends with ``RECOVERED at <time> (SEVn for <duration>)``. Ctrl-C ends it cleanly, with the last state shown.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scenescout_ir.core.config import parse_duration
from scenescout_ir.core.outcomes import ConfigError
from scenescout_ir.core.redact import Redactor
from scenescout_ir.judge.verdict import read

_OWN_OPTIONS = ("--watch", "--watch-ok", "--watch-max")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scenescout")
    group.addoption("--watch", default=None, metavar="INTERVAL",
                    help="re-run the selected checks every INTERVAL (e.g. 30s) until the verdict is OK "
                         "--watch-ok runs in a row")
    group.addoption("--watch-ok", default="2", metavar="N", help="OK runs in a row that end --watch (default 2)")
    group.addoption("--watch-max", default="2h", metavar="DURATION", help="the longest --watch runs (default 2h)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    interval = config.getoption("watch", default=None)
    if not interval or hasattr(config, "workerinput"):
        return None
    try:
        every = parse_duration(interval, "--watch")
        limit = parse_duration(config.getoption("watch_max"), "--watch-max")
        ok_runs = int(config.getoption("watch_ok"))
        if ok_runs < 1:
            raise ValueError
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    except ValueError:
        given = config.getoption("watch_ok")
        raise pytest.UsageError(f"--watch-ok must be a whole number of runs, got {given!r}") from None
    args = strip_own_options(list(config.invocation_params.args))
    from scenescout_ir.pytest_plugin.options import option_path

    verdict_file = option_path(config, "verdict_file")
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # the loop talks to the terminal itself, between whole runs
        capture.suspend_global_capture(in_=True)
    watch = Watch(args, every, ok_runs, limit, verdict_file, cwd=Path(config.invocation_params.dir),
                  write=lambda line: print(line, flush=True))
    return watch.run()


def strip_own_options(args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _OWN_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


@dataclass
class State:
    severity: str = "?"
    findings: dict[str, str] = field(default_factory=dict)  # check -> severity


def read_state(verdict_file: Path) -> State | None:
    verdict = read(verdict_file)
    if verdict is None:
        return None
    return State(verdict.label, {f.check: f.severity.name for f in verdict.findings})


def changes(before: State | None, now: State) -> list[str]:
    """What a person needs to see between two runs: severity moves, new and cleared findings."""
    if before is None:
        return [f"  {sev} {check}" for check, sev in sorted(now.findings.items())]
    out = []
    if before.severity != now.severity:
        out.append(f"  verdict {before.severity} -> {now.severity}")
    out += [f"  + {now.findings[c]} {c} (new)" for c in sorted(set(now.findings) - set(before.findings))]
    out += [f"  - {c} (cleared)" for c in sorted(set(before.findings) - set(now.findings))]
    out += [f"  ~ {c} {before.findings[c]} -> {now.findings[c]}"
            for c in sorted(set(now.findings) & set(before.findings)) if before.findings[c] != now.findings[c]]
    return out


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes else f"{secs} s")


class Watch:
    def __init__(self, args: Sequence[str], every: float, ok_runs: int, limit: float, verdict_file: Path, *,
                 cwd: Path, write: Callable[[str], Any] = print, clock: Callable[[], float] = time.time) -> None:
        self.args, self.every, self.ok_runs, self.limit = list(args), every, ok_runs, limit
        self.verdict_file, self.cwd, self.write, self.clock = verdict_file, cwd, write, clock
        self._child: subprocess.Popen[bytes] | None = None
        self._stop = False
        self._wake = threading.Event()

    def _run_once(self) -> int:
        self._child = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "--no-header", *self.args],
                                       cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = self._child.communicate()
        finally:
            code, self._child = self._child.returncode, None
        if code not in (0, 1, 6) and err:
            last = err.decode(errors="replace").strip().splitlines()[-1][:200]
            self.write(f"  (run exited {code}: {Redactor()(last)})")
        return code

    def _interrupt(self, signum: int, frame: Any) -> None:
        self._stop = True
        self._wake.set()
        if self._child is not None:
            self._child.send_signal(signal.SIGINT)

    def run(self) -> int:
        stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, a cancelled job, a closed terminal
        previous = [signal.signal(s, self._interrupt) for s in stops]
        try:
            return self._loop()
        finally:
            for s, handler in zip(stops, previous, strict=True):
                signal.signal(s, handler)

    def _loop(self) -> int:
        start = self.clock()
        self.write(f"watching every {_duration(self.every)} until OK {self.ok_runs} runs in a row "
                   f"(at most {_duration(self.limit)}): pytest {Redactor()(shlex.join(self.args))}")
        state: State | None = None
        worst: str | None = None
        first_bad: float | None = None
        ok_since: float | None = None
        streak = 0
        runs = 0
        while not self._stop:
            began = self.clock()
            self.verdict_file.unlink(missing_ok=True)
            self._run_once()
            if self._stop:
                break
            runs += 1
            now = read_state(self.verdict_file) or State("INCOMPLETE")
            self.write(f"[{_clock(began)}] run {runs}: {now.severity}")
            for line in changes(state, now):
                self.write(line)
            state = now
            if now.severity == "OK":
                streak += 1
                ok_since = ok_since if streak > 1 else began
            else:
                streak, ok_since = 0, None
                if now.severity.startswith("SEV"):
                    first_bad = first_bad or began
                    worst = min(worst or now.severity, now.severity)
            if streak >= self.ok_runs:
                if first_bad is None:
                    self.write(f"OK for {streak} runs in a row: nothing to recover from")
                else:
                    self.write(f"RECOVERED at {_clock(ok_since or began)} ({worst} for "
                               f"{_duration((ok_since or began) - first_bad)})")
                return 0
            if self.clock() - start + self.every > self.limit:
                self.write(f"NOT RECOVERED after {_duration(self.clock() - start)}: last verdict {now.severity}")
                return 1
            self._wake.wait(max(0.0, began + self.every - self.clock()))  # Ctrl-C wakes it
        self.write(f"watch interrupted after {runs} runs: last verdict {state.severity if state else 'none'}")
        return 2
