"""The deploy gate: waived findings and FLAKY checks in the verdict and the exit code, and many targets in
one run (``--target production --target staging``, ``--target all``).

A run of several targets starts one run per target at once, each a fork of this process (below: "a target's
run forked from this one"; a child pytest process where it cannot fork), each with its own verdict file and
reports dir, ``reports/targets/<name>/``, so each keeps its run and appends its own incident-log line; it prints
each target's verdict block as it finishes, then merges them (merge.py) into ``reports/verdict.json`` with
one combined line: the worst severity, per target. Its exit code is the merge's (merge.py ``exit_code``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from scenescout_ir.pytest_plugin import waivers

if TYPE_CHECKING:
    from typing import TypeAlias

    from scenescout_ir.judge.verdict import CheckRecord, Verdict
    from scenescout_ir.pytest_plugin.plugin import Suite

    Child: TypeAlias = "subprocess.Popen[bytes] | Forked"

ALL = "all"
TARGETS_DIR = "targets"  # reports/targets/<name>/: each target's own verdict file, kept runs, JUnit
CHILD_ENV = "SCENESCOUT_GATE_CHILD"  # set in a target's child run: it never fans out again


# --- waived findings and FLAKY checks: one verdict ------------------------------------------------------


def before_verdict(suite: Suite) -> tuple[list[CheckRecord], dict[str, Any]]:
    """The records the verdict counts (a waived finding is listed apart), a check failing on every attempt
    says so, and the FLAKY checks with every attempt."""
    from scenescout_ir.pytest_plugin import retries

    records = [retries.failed_every_attempt(r, suite.attempts) for r in suite.records]
    kept, waived = waivers.split(records, suite.target.waivers, waivers.today())
    return kept, {"waived": waived, "flaky": retries.flaky(records, suite.attempts)}


def after_verdict(verdict: Verdict, gated: dict[str, Any]) -> Verdict:
    if not gated["waived"] and not gated["flaky"]:
        return verdict
    counts = dict(verdict.counts)
    counts["waived"] = len(gated["waived"])
    counts["flaky"] = len(gated["flaky"])
    counts["total"] += len(gated["waived"])
    return replace(verdict, waived=gated["waived"], flaky=gated["flaky"], counts=counts)


def exit_status(suite: Suite, status: int | pytest.ExitCode) -> int | pytest.ExitCode:
    """A FLAKY-only run exits 0, or EXIT_FLAKY when the gate asks for it (--flaky-fails, flaky_fails)."""
    from scenescout_ir.pytest_plugin import retries

    verdict = suite.verdict
    if verdict is None or not verdict.flaky or status != 0:
        return status
    return retries.EXIT_FLAKY if retries.flaky_fails(suite.config, suite.target) else status


# --- many targets in one run --------------------------------------------------------------------------


def targets_asked(config: pytest.Config) -> list[str]:
    """The targets named (``--target a --target b``, ``--target a,b``, $SCENESCOUT_TARGET=a,b); ``all``: every
    target of the targets file."""
    given = getattr(config.option, "targets_given", None) or str(config.getoption("target")).split(",")
    names = list(dict.fromkeys(n.strip() for n in given if n.strip()))
    if ALL in names:
        from scenescout_ir.core.config import load_targets
        from scenescout_ir.core.outcomes import ConfigError
        from scenescout_ir.pytest_plugin.options import option_path

        try:
            names = list(load_targets(option_path(config, "targets_file")))
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    return names


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """More than one target (or ``all``): one child run per target, at once, then one combined verdict."""
    if os.environ.get(CHILD_ENV) or not hasattr(config.option, "target"):
        return None
    from scenescout_ir.pytest_plugin.options import misread_path_option

    misread = misread_path_option(config)
    if misread:
        raise pytest.UsageError(misread)
    names = targets_asked(config)
    if len(names) < 2 and ALL not in (getattr(config.option, "targets_given", None) or []):
        if len(names) == 1:
            config.option.target = names[0]
        return None
    if config.getoption("watch", default=None):
        raise pytest.UsageError(f"--watch follows one target: run one watch per target ({', '.join(names)})")
    odd = [n for n in names if n in (".", "..") or "/" in n or os.sep in n or "\0" in n]
    if odd:  # each target's files go to reports/targets/<name>/: a name must not lead out of it
        raise pytest.UsageError(f"target name {odd[0]!r} cannot name its reports dir (reports/targets/<name>/): "
                                "check several targets only by plain names")
    return run_targets(config, names)


_OWN = ("--target", "--verdict-file", "--junitxml", "--junit-xml", "--alluredir")


def child_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The run's arguments without those each target gets its own of (returned apart, by option)."""
    out: list[str] = []
    own: dict[str, str] = {}
    it = iter(args)
    for arg in it:
        flag, eq, value = arg.partition("=")
        if flag in _OWN:
            own[flag] = value if eq else next(it, "")
            continue
        out.append(arg)
    return out, own


def run_targets(config: pytest.Config, names: list[str]) -> int:
    from scenescout_ir.pytest_plugin.options import option_path
    from scenescout_ir.reporting import merge

    reports = option_path(config, "verdict_file").parent
    base = reports / TARGETS_DIR
    args, own = child_args([str(a) for a in config.invocation_params.args])
    junit = own.get("--junitxml") or own.get("--junit-xml")
    started = time.monotonic()
    children: dict[str, tuple[Child, Path, float]] = {}
    fork = can_fork(config)
    if fork:  # what is here now is never collected in the forks: their collections skip it, and leave its pages
        fork = share_before_forks(config)
    for name in names:
        directory = base / name
        directory.mkdir(parents=True, exist_ok=True)
        for stale in ("verdict.json", "junit.xml"):  # an earlier run's: never merged as this run's (a false OK)
            with contextlib.suppress(FileNotFoundError):
                (directory / stale).unlink()
        # each option with its value after "=": given apart, pytest would read a path value as a test path
        cmd = [sys.executable, "-m", "pytest", *args, f"--target={name}",
               f"--verdict-file={directory / 'verdict.json'}", "-o", f"junit_suite_name={name}"]
        if junit:
            cmd += [f"--junitxml={directory / 'junit.xml'}"]
        if own.get("--alluredir"):
            cmd += [f"--alluredir={Path(own['--alluredir']) / name}"]
        with open(directory / "output.txt", "wb") as out:
            # a session of its own: Ctrl-C reaches it once, forwarded by this process (_forward_signals)
            if fork:
                proc: Child = fork_child([*cmd[3:], "-W", ALREADY_IMPORTED], out.fileno(), config.invocation_params.dir)
            else:
                proc = subprocess.Popen(cmd, cwd=config.invocation_params.dir, stdout=out, stderr=subprocess.STDOUT,
                                        env={**os.environ, CHILD_ENV: "1"}, start_new_session=True)
        children[name] = (proc, directory, time.monotonic())
    print(f"checking {len(names)} targets at once: {', '.join(names)} (each in {base}/<target>/)", flush=True)
    pending = dict(children)
    gc.unfreeze()
    restore = _forward_signals([proc for proc, _, _ in children.values()])
    try:
        while pending:
            for name, (proc, directory, _) in list(pending.items()):
                code = proc.poll()
                if code is None:
                    continue
                del pending[name]
                print(target_block(name, directory, code, time.monotonic() - started), flush=True)
            if pending:  # the first still running, briefly: the others are looked at again after it
                with contextlib.suppress(subprocess.TimeoutExpired):
                    next(iter(pending.values()))[0].wait(timeout=0.1)
    finally:
        restore()
    merged, code, lines = merge.merge([d for _, d, _ in children.values()], base)
    with contextlib.suppress(OSError):  # the combined verdict where a single run's would be
        (reports / "verdict.json").write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    if junit:
        merge_junit({name: (d / "junit.xml", proc.returncode) for name, (proc, d, _) in children.items()},
                    Path(config.invocation_params.dir) / junit)
    print("\n".join(lines[-2:-1] + [f"{lines[-1]}; {time.monotonic() - started:.1f} s"]))
    return code


# --- a target's run forked from this one: no second start-up ------------------------------------------
#
# Most of a target's run is start-up: the interpreter, pytest, its plugins, psycopg, requests and Playwright's
# package take about 0.7 s of CPU to import, the rest of a healthy target's run about 0.3 s. This process has
# paid it already when it decides to fan out (pytest_cmdline_main, before pytest_configure: no session, no
# probe, no thread yet), so each target's run is a fork of it running ``pytest.main`` over the target's own
# arguments: a fresh Config and plugin manager, the imported modules shared (their module-level state is
# constants and caches of files). A child pytest process (the fallback) is used with ``-n`` (xdist), where
# fork is missing, when a thread is already running here, or when $SCENESCOUT_GATE_FORK=0.

FORK_ENV = "SCENESCOUT_GATE_FORK"
# A forked run's plugins are imported already, as this run imported them: pytest says it cannot rewrite their
# asserts (they are as in this run), a warning that filterwarnings = error would make fatal. Only that one.
ALREADY_IMPORTED = "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"
_STOPS = ("SIGINT", "SIGTERM", "SIGHUP")


def can_fork(config: pytest.Config) -> bool:
    import threading

    return (hasattr(os, "fork") and os.environ.get(FORK_ENV, "1") != "0" and threading.active_count() == 1
            and not getattr(config.option, "numprocesses", None))


# What every target's run imports once its checks start (the probes, the judge, psycopg), imported once here
# before the forks; and the suite's plugin parts each run registers (plugin._PARTS: the fixtures, with requests
# and Playwright's sync API under them), imported through this run's assertion rewriter as each run's own would
# import them, so a run finds them rewritten and registers them without importing them again.
PRELOAD = ("scenescout_ir.core", "scenescout_ir.probes", "scenescout_ir.judge", "psycopg")


def share_before_forks(config: pytest.Config) -> bool:
    """What every fork needs imported once, here, then frozen: shared, never collected here or in a fork (a
    collection writes to every object it visits), as the gc module advises before fork. False when an import
    started a thread: a fork would copy whatever lock it holds, so the targets' runs are child processes then."""
    import threading

    gc.disable()  # what the imports leave is frozen next, garbage or not: no collection before
    try:
        preload(config)
        gc.freeze()
    finally:
        gc.enable()  # the forks collect their own
    return threading.active_count() == 1


def preload(config: pytest.Config) -> None:
    import importlib
    import pkgutil

    from scenescout_ir.core.config import load_targets
    from scenescout_ir.pytest_plugin.options import option_path
    from scenescout_ir.pytest_plugin.plugin import _PARTS
    from scenescout_ir.reporting import allure_mapping

    targets_file = option_path(config, "targets_file")
    # the config's types evaluated once, here; a warm-up only: each run reads the file itself and says what is
    # wrong with it, and a file that is not a regular one (a pipe) is left for the runs to read
    with contextlib.suppress(Exception):
        if targets_file.is_file():
            load_targets(targets_file)
    allure_mapping.remember_git_commit(Path(str(config.rootpath)))  # two git processes once, not per target
    hook = config.pluginmanager.rewrite_hook
    hook.mark_rewrite(*_PARTS)  # as pytest's import_plugin does before it imports a plugin
    for name in _PARTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # a run that needs it says so in its own output
            package = importlib.import_module(name)
            if name.startswith("scenescout_ir."):
                for module in pkgutil.iter_modules(package.__path__, f"{name}."):
                    with contextlib.suppress(ImportError):
                        importlib.import_module(module.name)


class Forked:
    """A forked target's run, looked after like a ``subprocess.Popen``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: it ended, how is unknown
                self.returncode = 3
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.005)
        return int(self.returncode)  # type: ignore[arg-type]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def fork_child(args: list[str], output: int, cwd: Path) -> Forked:
    """``pytest.main(args)`` in a fork of this process, in a session of its own, its output into ``output``."""
    import atexit
    import signal

    from scenescout_ir.pytest_plugin.forked_run import run_then_exit

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid:
        return Forked(pid)

    def prepare() -> None:
        os.setsid()
        for name in _STOPS:  # as a fresh process has them: its own run installs its handlers
            signum = getattr(signal, name)
            signal.signal(signum, signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL)
        atexit._clear()  # the parent's exit handlers are the parent's
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.chdir(cwd)
        os.environ[CHILD_ENV] = "1"
        sys.argv[1:] = args  # this process is that run's (the plugin's signal handling after the run asks)

    run_then_exit(prepare, args)


def _forward_signals(procs: list[Child]) -> Any:
    """Ctrl-C or SIGTERM (a cancelled CI job) stops every target's run the way it stops one: each ends
    INTERRUPTED with its own verdict, and the merge still runs (exit 2: not verified)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def forward(signum: int, frame: Any) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def target_block(name: str, directory: Path, returncode: int, elapsed: float) -> str:
    """A target's verdict block from its run's output, under a line naming the target."""
    try:
        text = (directory / "output.txt").read_text(errors="replace")
    except OSError:
        text = ""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip("= ") == "verdict"), None)
    if start is None:  # no verdict: a usage error, a crash, stopped before it began; its last lines say why
        block = [*lines[-5:], f"no verdict from this target's run (its output: {directory / 'output.txt'})"]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=" * 5)), len(lines))
        block = lines[start + 1:end]
    head = f" target {name}: exit {returncode}, {elapsed:.1f} s "
    return "\n".join([f"{head:=^80}", *block])


def merge_junit(files: dict[str, tuple[Path, int | None]], output: Path) -> None:
    """One JUnit file: every target's test suite (named after the target, its cases' classnames starting with it)
    under one <testsuites>; a target whose run left none (it ended before its checks: a usage error, a crash) is a
    suite with one error saying so, so a CI's test report shows it failed instead of leaving it out."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites")
    for name, (path, returncode) in files.items():
        try:
            element = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            reason = "no JUnit file" if isinstance(exc, FileNotFoundError) else f"an unreadable JUnit file ({exc})"
            suite = ET.SubElement(root, "testsuite", name=name, tests="1", errors="1", failures="0", skipped="0")
            case = ET.SubElement(suite, "testcase", classname=name, name="the target's run")
            ET.SubElement(case, "error", message=f"{reason}: the target's run ended with exit {returncode} before "
                                                 f"its checks (its output: {path.parent / 'output.txt'})")
            continue
        for suite in [element] if element.tag == "testsuite" else list(element):
            for case in suite.iter("testcase"):  # for the tools that key a result on its classname alone
                case.set("classname", f"{name}.{case.get('classname', '')}".rstrip("."))
            root.append(suite)
    output.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(output, encoding="utf-8", xml_declaration=True)
