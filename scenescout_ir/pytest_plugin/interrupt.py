"""A run stopped by a signal, however the signal arrives (issue 15): one orderly stop, never OK, no traceback.

The first SIGINT, SIGTERM or SIGHUP records what stopped the run. Where raising is safe (inside a check, its
fixtures or its teardown, where the run waits on a hung site; or the xdist controller waiting for its
workers) it raises :class:`Interrupted`, a ``KeyboardInterrupt``, so pytest's own orderly stop runs: fixtures
are torn down and ``pytest_sessionfinish`` writes the verdict. Anywhere else (pytest making a report, the
plugins' hooks, collection) an exception would land in the middle of someone else's code and end as an
INTERNALERROR traceback, so the stop is asked for instead (``session.shouldstop``, or raised when the next
check's setup or call begins). Every later signal is recorded and absorbed, not raised: a second Ctrl-C, or
a terminal or ``timeout`` signalling the whole process group (with xdist, the workers too), cannot cut the
stop, the verdict file, the kept run or the incident-log line in half. Once the verdict is being written
(:meth:`Signals.finishing`), a first signal is absorbed as well: every check has run and the verdict is whole.
The probes' background threads leave these signals to the main thread (``probes/threads.py``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Generator
from types import FrameType
from typing import Any

import pytest

NAMES = {
    signal.SIGINT: "SIGINT (Ctrl-C)",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP (terminal closed)",
}


class Interrupted(KeyboardInterrupt):
    """Raised by the first signal: pytest stops as on Ctrl-C; its message is the terminal's one line."""

    def __str__(self) -> str:
        return f"stopped by {self.args[0]}" if self.args else "stopped"


class Signals:
    """The run's signal handlers: installed in the main thread, restored when the run ends."""

    def __init__(self, can_raise: Callable[[FrameType | None], bool], defer: Callable[[str], None]) -> None:
        self.first: str | None = None  # the signal that stopped the run
        self.later: list[str] = []  # signals absorbed while it stopped (or while the verdict was written)
        self._can_raise = can_raise  # is an exception safe where the main thread is now?
        self._defer = defer  # ask for the stop at the next safe point instead
        self._finishing = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may handle signals (an in-process run from another thread)
        for signum in NAMES:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self, *, main_run: bool = False) -> None:
        """Give the signals back; a run that is the process itself keeps absorbing them until it exits (pytest
        still cleans up after the plugins are gone: a Ctrl-C there would end it with a traceback, and one while
        Python exits would kill it)."""
        if main_run:  # ignored, not handled: Python resets handled signals to their default when it exits
            for signum in self._previous:
                signal.signal(signum, signal.SIG_IGN)
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def finishing(self) -> None:
        """From here no signal raises: the verdict, the kept run and the incident line are written whole."""
        self._finishing = True

    def _handle(self, signum: int, frame: Any) -> None:
        name = NAMES.get(signal.Signals(signum), signal.Signals(signum).name)
        if self.first is not None or self._finishing:
            self.later.append(name)
            return
        self.first = name
        if self._can_raise(frame):
            raise Interrupted(name)
        self._defer(f"stopped by {name}")

    def described(self, interrupted: str | None) -> str | None:
        """What ``interrupted`` says in the verdict: the first signal, and the ones absorbed after it."""
        if interrupted is None or not self.later:
            return interrupted
        first = interrupted.split(" ")[0]
        names = [name.split(" ")[0] for name in self.later]
        if len(names) == 1:
            return f"{interrupted}, then {'again' if names[0] == first else names[0]} while stopping"
        more = ", ".join(f"{names.count(n)}x {n}" for n in dict.fromkeys(names))
        return f"{interrupted}, then {more} while stopping"


def waiting_for_workers(frame: FrameType | None) -> bool:
    """The xdist controller blocked in its queue of worker events (where xdist itself expects Ctrl-C)."""
    while frame is not None:
        module = frame.f_code.co_filename
        if frame.f_code.co_name == "loop_once" and module.endswith("dsession.py"):
            return True
        if not (module.endswith("threading.py") or module.endswith("queue.py")):
            return False
        frame = frame.f_back
    return False


class StopPoints:
    """Where a signal may raise: a check's setup, call and teardown (the check, its fixtures, a hung wait).

    Registered by the suite's plugin; a stop asked for between checks is raised by the next check's setup.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.depth = 0  # inside a check's setup, call or teardown
        self.session: pytest.Session | None = None
        self.signals = Signals(self.can_raise, self.defer)

    def can_raise(self, frame: FrameType | None) -> bool:
        return self.depth > 0 or waiting_for_workers(frame)

    def defer(self, why: str) -> None:
        if self.session is not None:
            self.session.shouldstop = why  # pytest stops after the check in progress
        dsession = self.config.pluginmanager.get_plugin("dsession")
        if dsession is not None:
            dsession.shouldstop = why  # the xdist controller stops after the event in progress

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        if self.signals.first is not None:  # a signal between checks (or during collection): stop here
            raise Interrupted(self.signals.first)
        return (yield from self._inside())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        if self.signals.first is not None:  # a signal while its setup was reported: not into a long wait
            raise Interrupted(self.signals.first)
        return (yield from self._inside())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._inside())

    def _inside(self) -> Generator[None, object, object]:
        self.depth += 1
        try:
            return (yield)
        finally:
            self.depth -= 1
