"""Background threads that leave the stop signals to the main thread (issue 15).

The kernel hands a signal sent to the process, or to its process group (a terminal's Ctrl-C, ``timeout``,
a CI runner), to any thread that does not block it. Python runs its handlers only in the main thread, and a
main thread waiting on a lock (a check waiting for a prefetched answer from a hung site) is woken only if
the signal was handed to it: otherwise the Ctrl-C waits, unseen, until the hung request times out. Threads
started inside :func:`for_main_thread` inherit a mask blocking SIGINT, SIGTERM and SIGHUP, so those reach the
main thread at once.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


@contextmanager
def for_main_thread() -> Iterator[None]:
    """Threads started in this block never take SIGINT, SIGTERM or SIGHUP (a signal arriving meanwhile waits,
    pending, until the block ends and is then handled by the main thread)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
