"""Threads that other plugins start while pytest is configured leave the stop signals to the main thread too
(issue 15; ``probes/threads.py`` does the same for the probes' own threads).

pytest-rerunfailures starts a status server thread in every run where xdist is installed. The kernel handed a
Ctrl-C or a SIGTERM sent to the process group to that thread; Python's handler was tripped there, and the main
thread, waiting on a hung site, was not woken: it went on waiting for its whole read timeout (50 s in 1 of the
first 12 runs of a reproduction). From the first ``pytest_configure`` until the session starts
(``pytest_sessionstart``, before xdist starts its workers: a process started meanwhile would inherit the mask) the
main thread blocks SIGINT, SIGTERM and SIGHUP, and every thread started meanwhile inherits that; a signal arriving
meanwhile waits, pending, and is handled as soon as they are unblocked. A module of its own, imported by nothing
else: pytest registers it (``pytest_plugins`` of plugin.py) before importing it, so its asserts could be rewritten.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

_UNMASK = pytest.StashKey[Callable[[], None]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Block the stop signals in the main thread until the session starts."""
    from scenescout_ir.probes.threads import STOP_SIGNALS

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def unmask() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    config.stash[_UNMASK] = unmask
    config.add_cleanup(unmask)  # a run that never starts its session (a usage error) unblocks them too


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    unmask = session.config.stash.get(_UNMASK, None)
    if unmask is not None:
        unmask()
