"""Runs of the suite for the suite's own tests, each a fork of a process that imported pytest and the plugins once.

``make test`` runs the suite hundreds of times (``run_suite``, tests/demo_support.py, and the pytester runs of the
unit tests). As separate ``python -m pytest`` processes each run paid the interpreter's start and the imports of
pytest, its plugins (Playwright's package, Allure, xdist), psycopg, requests and the suite's core, probes and
judge again: ``make test`` took 740 s of CPU (8 min 2 s on two cores), 387 s with the runs forked (4 min 31 s).
Here one server per test process (an xdist worker) pays the imports once; each run is a fork of it running
``pytest.main`` over the run's arguments, in its own session, with its own working directory, environment,
``sys.path`` (as ``python -m pytest`` there with that ``$PYTHONPATH`` has it), ``sys.argv`` and standard streams:
a real process, which the test may time out and kill (its process group) as before. The suite's pytest plugin
modules are not imported by the server: each run imports them as a real run does (pytest rewrites them, and
warns about one imported too early). The gate forks its targets' runs the same way
(scenescout_ir/pytest_plugin/gate.py); nothing of one run can reach the next, since the server never runs pytest.

What a fork cannot show stays with separate processes: the entry point's loading (tests/unit/test_entry_point.py),
signals sent to a run (test_interrupt.py), and every run of a test given ``SCENESCOUT_TESTS_SPAWN=1``
(the whole ``make test``: ``make test SCENESCOUT_TESTS_SPAWN=1``).

Protocol (one request at a time, a JSON line each way): the test sends ``{"args", "cwd", "env", "stdout",
"stderr"}``; the server forks, answers ``{"pid"}``, then ``{"pid", "code"}`` when the run ended.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SPAWN_ENV = "SCENESCOUT_TESTS_SPAWN"  # "1": every run a separate `python -m pytest` process, as before
PLUGIN = "scenescout_ir.pytest_plugin.plugin"  # its pytest11 entry point's name
PLUGIN_PACKAGE = "scenescout_ir.pytest_plugin"
_PRELOADED: frozenset[str] = frozenset()  # the modules the server imported, which a run finds imported already


# --- the server ---------------------------------------------------------------------------------------------


def _preload() -> None:
    """What a run imports, but for the suite's pytest plugin: pytest with every other plugin its entry points
    name (a parsed configuration imports them), then the suite's probes, judge and core and psycopg
    (gate.preload). The suite's plugin modules are left to each run: pytest imports them there as in a real run
    (its asserts rewritten, and a module it cannot rewrite still warned about)."""
    from _pytest.config import _prepareconfig

    with contextlib.suppress(Exception):
        config = _prepareconfig(["-p", "no:cacheprovider", "-p", f"no:{PLUGIN}", "--co"])
        config._ensure_unconfigure()  # its cleanups: the global capture of the standard streams ends
    import importlib
    import pkgutil

    for name in ("scenescout_ir.core", "scenescout_ir.probes", "scenescout_ir.judge", "psycopg"):  # gate.PRELOAD
        package = importlib.import_module(name)
        if name.startswith("scenescout_ir."):
            for module in pkgutil.iter_modules(package.__path__, f"{name}."):
                importlib.import_module(module.name)
    leaked = sorted(m for m in sys.modules if m.startswith(f"{PLUGIN_PACKAGE}."))
    assert not leaked, f"the fork server imported the suite's plugin modules: {leaked}"


_SERVER_PYTHONPATH = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def _start_path(cwd: str, pythonpath: str) -> list[str]:
    """``sys.path`` as ``python -m pytest`` started in ``cwd`` with ``$PYTHONPATH`` has it: the directory, then
    ``$PYTHONPATH``, then the interpreter's own (the server's, less the server's ``$PYTHONPATH``)."""
    own = [p for p in sys.path[1:] if p not in _SERVER_PYTHONPATH]
    return [cwd, *(os.path.abspath(p) for p in pythonpath.split(os.pathsep) if p), *own]


def _quiet_about_preloaded() -> None:
    """pytest warns that it cannot rewrite a plugin module imported before it marked it (a warning that
    filterwarnings = error makes fatal): true here of every module the server imported, never in a real run.
    Not of any other: a plugin module the run itself imports too early still warns, as it would in a real run."""
    from _pytest.assertion import rewrite

    warn = rewrite.AssertionRewritingHook._warn_already_imported

    def unless_preloaded(self: Any, name: str) -> None:
        if name not in _PRELOADED:
            warn(self, name)

    rewrite.AssertionRewritingHook._warn_already_imported = unless_preloaded  # type: ignore[method-assign]


def _child(request: dict[str, Any]) -> None:
    """In the fork: become the run (its session, streams, directory, environment, argv), run it, exit."""
    from scenescout_ir.pytest_plugin.forked_run import run_then_exit

    args = list(request["args"])

    def prepare() -> None:
        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for name in ("SIGTERM", "SIGHUP", "SIGPIPE"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own, for its whole life
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        sys.path[:] = _start_path(request["cwd"], request["env"].get("PYTHONPATH", ""))
        for name in [m for m in sys.modules if m == "tests" or m.startswith("tests.")]:
            del sys.modules[name]  # the server's own package: a run imports whatever `tests` its directory has
        os.environ.clear()
        os.environ.update(request["env"])
        _quiet_about_preloaded()
        sys.argv[:] = [sys.argv[0], *args]

    run_then_exit(prepare, args)


def serve() -> None:
    import atexit

    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # nothing but the protocol on the channel, whatever an import prints
    _preload()
    global _PRELOADED
    _PRELOADED = frozenset(sys.modules)
    gc.collect()
    gc.freeze()  # what is imported now is never collected again in a run: its pages stay shared
    for line in sys.stdin:
        request = json.loads(line)
        channel.flush()
        pid = os.fork()
        if pid == 0:
            atexit._clear()
            channel.close()
            _child(request)
        channel.write(json.dumps({"pid": pid}) + "\n")
        channel.flush()
        _, status = os.waitpid(pid, 0)
        channel.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")
        channel.flush()


# --- the test's side ------------------------------------------------------------------------------------------


class ForkServer:
    """One per test process, started on first use; ``run`` is ``subprocess.run`` of ``python -m pytest ARGS``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._buffer = b""  # what the server said beyond the last whole line

    def _server(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._buffer = b""
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.forkserver"], cwd=self.root, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, bufsize=0, start_new_session=True,
            )
        return self._proc

    def run(self, args: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            out_dir: Path) -> subprocess.CompletedProcess[str]:
        """``args`` after ``python -m pytest``; raises ``subprocess.TimeoutExpired`` (the run killed) like
        ``subprocess.run``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        stdout, stderr = out_dir / "run.stdout", out_dir / "run.stderr"
        with self._lock:
            server = self._server()
            assert server.stdin is not None and server.stdout is not None
            request = {"args": args, "cwd": str(cwd), "env": env, "stdout": str(stdout), "stderr": str(stderr)}
            server.stdin.write(json.dumps(request).encode() + b"\n")
            pid = self._answer(server, 30.0)["pid"]
            try:
                code = self._answer(server, timeout)["code"]
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                self._answer(server, 30.0)  # reaped by the server
                raise subprocess.TimeoutExpired(["pytest", *args], timeout, _read(stdout), _read(stderr)) from None
        return subprocess.CompletedProcess(["pytest", *args], code, _read(stdout), _read(stderr))

    def _answer(self, server: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
        """The server's next line (read unbuffered: two lines that came together are both kept)."""
        assert server.stdout is not None
        fd = server.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired("forkserver", timeout)
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"the fork server ended (exit {server.wait()})")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()


_SHARED: list[ForkServer] = []


def forks() -> ForkServer:
    """This test process's server (started on first use, ended with the test session)."""
    if not _SHARED:
        _SHARED.append(ForkServer(Path(__file__).resolve().parents[1]))
    return _SHARED[0]


def pytest_unconfigure() -> None:
    for server in _SHARED:
        server.close()


def runpytest_forked(pytester: Any, *args: str, timeout: float = 300) -> Any:
    """``pytester.runpytest_subprocess(*args)``, the run forked from the server: the same arguments (its own
    ``--basetemp``, the pytester's plugins), directory, environment (``PYTHONPATH`` with the directory) and
    result (a ``RunResult`` with the run's lines)."""
    import pytest
    from _pytest.pathlib import make_numbered_dir

    if os.environ.get(SPAWN_ENV) == "1":
        return pytester.runpytest_subprocess(*args, timeout=timeout)
    temp = make_numbered_dir(root=pytester.path, prefix="runpytest-", mode=0o700)
    full = [f"--basetemp={temp}", *map(str, args)]
    for plugin in pytester.plugins:
        full = ["-p", str(plugin), *full]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
    started = time.monotonic()
    output = temp.with_name(f"{temp.name}-output")  # not under --basetemp: pytest empties that
    proc = forks().run(full, cwd=Path.cwd(), env=env, timeout=timeout, out_dir=output)
    print(proc.stdout)
    print(proc.stderr, file=sys.stderr)
    return pytest.RunResult(proc.returncode, proc.stdout.splitlines(), proc.stderr.splitlines(),
                            time.monotonic() - started)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    serve()
