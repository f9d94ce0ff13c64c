"""The end of a forked pytest run, the same wherever the fork comes from: the gate's target runs (gate.py) and the
suite's own tests (tests/forkserver.py).

Not a pytest plugin module and importing none: a fork may import it before pytest has begun (its asserts are not
rewritten: it has none).
"""

from __future__ import annotations

import atexit
import contextlib
import sys
from collections.abc import Callable
from typing import NoReturn


def run_then_exit(prepare: Callable[[], None], args: list[str]) -> NoReturn:
    """In a fork: ``prepare()`` (become the run: its session, streams, directory, environment), ``pytest.main(args)``,
    the run's exit handlers, then ``os._exit`` with its code. Never returns into the process that forked: a run that
    cannot even start exits 3 (pytest's internal error) with its traceback on its own stderr."""
    import os

    code = 3
    try:
        prepare()
        import pytest

        code = int(pytest.main(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a forked run must never return into its parent
        import traceback

        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
