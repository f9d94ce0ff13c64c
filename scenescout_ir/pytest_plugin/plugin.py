"""The pytest plugin: options, the three outcomes of a check, evidence, redaction and the verdict.

Checks are ordinary pytest tests marked ``emergency``, ``comprehensive`` or ``performance``. Each one's
outcome is turned into a :class:`~scenescout_ir.judge.verdict.CheckRecord` here, in the process that ran it,
and carried in ``report.user_properties`` so the controlling process of an ``-n auto`` run assembles the
same verdict from what its workers report.
"""

from __future__ import annotations

import atexit
import gc
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from scenescout_ir.core.conditions import CONDITIONS
from scenescout_ir.core.config import DEFAULT_TARGETS_FILE, Target, load_target
from scenescout_ir.core.evidence import EvidenceLog
from scenescout_ir.core.outcomes import ConfigError, CouldNotRun
from scenescout_ir.core.redact import Redactor, safe_dsn
from scenescout_ir.judge.verdict import FAILED, CheckRecord, Verdict
from scenescout_ir.pytest_plugin import waivers
from scenescout_ir.pytest_plugin.budget import RunClock, run_budget
from scenescout_ir.pytest_plugin.check_record import finding_text, record_of, scrub
from scenescout_ir.pytest_plugin.footprint import WORKER_KEY, Footprint
from scenescout_ir.pytest_plugin.interrupt import StopPoints
from scenescout_ir.pytest_plugin.options import DEFAULT_VERDICT_FILE, active, add_options, option_path
from scenescout_ir.pytest_plugin.terminal import show_verdict
from scenescout_ir.pytest_plugin.verdict_writer import write_verdict

__all__ = ["DEFAULT_VERDICT_FILE", "RECORD_KEY", "Suite", "active", "is_check", "option_path", "suite"]

# Registered with this module, early enough for their options (the pytest11 entry point loads this one).
pytest_plugins = (
    "scenescout_ir.pytest_plugin.allure_adapter", "scenescout_ir.pytest_plugin.after_run",
    "scenescout_ir.pytest_plugin.watch", "scenescout_ir.pytest_plugin.retries",
    "scenescout_ir.pytest_plugin.gate",  # gate after watch: its cmdline_main first
    "scenescout_ir.pytest_plugin.signal_mask",  # the plugins' threads leave Ctrl-C to the main thread
)

CHECK_MARKERS = ("emergency", "comprehensive", "performance")
RECORD_KEY = "scenescout_ir.check"

# The process ends without the interpreter's last garbage collections walking everything pytest, Playwright,
# psycopg and the probes put in memory (0.17 s of every run on the reference machine, after its verdict): what is
# alive at exit is frozen first, as the gc module allows. Nothing is left to them: the run has unconfigured, its
# files are written and closed, and the interpreter flushes stdout and stderr itself. Registered on import, so it
# runs after the exit handlers registered later (LIFO).
atexit.register(gc.freeze)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from scenescout_ir.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


MARKERS = (
    "emergency: the playbook's Initial Response and Investigation checks; the verdict in seconds",
    "comprehensive: the playbook's Resolution and Recovery checks (browser smoke, integrity, recovery)",
    "performance: the playbook's Performance Validation checks (response times, slow statements)",
    "condition(key): the playbook condition (conditions-table key) a failure of this check indicates",
    "playbook(*commands): the playbook commands this check replaces (docs/traceability.md is built from them)",
)


# Registered with the suite when it is active, after every entry point (so the browser fixtures extend
# pytest-playwright's): the check fixtures, the browser fixtures, the Allure evidence and the watch mode.
_PARTS = ("scenescout_ir.pytest_plugin.fixtures", "scenescout_ir.pytest_plugin.browser_fixtures",
          "scenescout_ir.pytest_plugin.xdist_footprint", "scenescout_ir.pytest_plugin.provider_fixtures")


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if not active(config):  # another project in the same environment: the suite stays out of its way
        config.pluginmanager.register(Dormant(), "scenescout_ir.suite")
        return
    config.pluginmanager.register(Suite(config), "scenescout_ir.suite")
    for name in _PARTS:
        config.pluginmanager.import_plugin(name)


class Dormant:
    """No targets file and none asked for: nothing is loaded, unless a check is collected."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        ours = [Path(__file__).resolve().parents[2] / d for d in ("checks", "scenarios")]
        if any(is_check(item) and any(Path(str(item.path)).resolve().is_relative_to(d) for d in ours)
               for item in items):  # the suite's checks, not another project's tests marked "performance"
            raise pytest.UsageError(
                f"{DEFAULT_TARGETS_FILE} not found here or in the project root: create it (see README.md, "
                "'Configuration') or pass --targets-file PATH"
            )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything in emergency runs in comprehensive too: verifying a fix re-checks the triage."""
    if not isinstance(config.pluginmanager.get_plugin("scenescout_ir.suite"), Suite):
        return  # dormant: another project's markers named like ours are theirs
    for item in items:
        if item.get_closest_marker("emergency") and not item.get_closest_marker("comprehensive"):
            item.add_marker(pytest.mark.comprehensive)
        _check_condition_marker(item)
    suite_ = suite(config)
    waivers.check_names(suite_.target, items, {suite_.root, Path(__file__).resolve().parents[2]})
    items.sort(key=_phase_order)  # triage first: with a time budget, what is cut short is the deep checks


def _phase_order(item: pytest.Item) -> int:
    """Emergency checks, then comprehensive ones, then performance ones (stable within each)."""
    if item.get_closest_marker("emergency"):
        return 0
    return 2 if item.get_closest_marker("performance") else 1


def _check_condition_marker(item: pytest.Item) -> None:
    """A condition key the table does not know is the suite's mistake: one usage line, before anything runs."""
    marker = item.get_closest_marker("condition")
    if marker is None:
        return
    key = marker.args[0] if len(marker.args) == 1 else None
    if not isinstance(key, str) or key not in CONDITIONS:
        given = repr(key) if len(marker.args) == 1 else f"{len(marker.args)} arguments"
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.condition({given}) names no condition of the table in "
            f"scenescout_ir/core/conditions.py (known: {', '.join(sorted(CONDITIONS))})"
        )


def suite(config: pytest.Config) -> Suite:
    plugin = config.pluginmanager.get_plugin("scenescout_ir.suite")
    if not isinstance(plugin, Suite):
        raise pytest.UsageError(f"{DEFAULT_TARGETS_FILE} not found: create it or pass --targets-file PATH")
    return plugin


def is_check(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(m) for m in CHECK_MARKERS)


class Suite:
    """Per-run state and the hooks that coordinate the run's collaborators: the target, the evidence of the
    check running now, the records, the run's clock (budget.py), its footprint (footprint.py), the verdict
    (verdict_writer.py) and its terminal block (terminal.py)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = Path(str(config.rootpath))
        base_url = config.getoption("base_url", default=None) or None
        try:
            self.target: Target = load_target(option_path(config, "targets_file"), config.getoption("target"),
                                              base_url)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.verdict_file = option_path(config, "verdict_file")
        self.evidence = EvidenceLog()
        self.records: list[CheckRecord] = []
        self.attempts: dict[str, list[CheckRecord]] = {}  # nodeid -> its failed attempts before a retry (retries.py)
        self.verdict: Verdict | None = None
        self.write_error: str | None = None
        self._redactor: Redactor | None = None
        self.started = time.time()
        self.is_worker = hasattr(config, "workerinput")
        self.footprint = Footprint()
        self.interrupted: str | None = None  # the signal that stopped the run (issue 8, item 5)
        self.clock = RunClock(self.target.budget.comprehensive_s, self.target.name)  # budget decided at collection
        stops = StopPoints(config)  # SIGINT, SIGTERM, SIGHUP: one orderly stop, later ones absorbed (issue 15)
        config.pluginmanager.register(stops, "scenescout_ir.stops")
        self.signals = stops.signals
        self.signals.install()

    @property
    def redact(self) -> Redactor:
        """Built on first use, when the secrets (the DSN of a demo stack started since) can be known."""
        if self._redactor is None:
            self._redactor = Redactor(self.target.secrets())
        return self._redactor

    def base_url(self) -> str:
        try:
            return self.target.resolve_base_url()
        except ConfigError:
            return "(demo stack not running)"

    @property
    def budget_s(self) -> float:
        return self.clock.budget_s

    def budget_left(self) -> float:
        """Seconds left of the run's time budget (issue 8, item 10); probes may cap their waits by it."""
        return self.clock.left()

    # --- hooks ---------------------------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        t = self.target
        try:
            dsn = t.no_database or safe_dsn(t.resolve_dsn())
        except ConfigError as exc:
            dsn = f"(none: {exc})"
        return [
            f"target: {t.name}{' (embedded demo stack ' + str(t.stack) + ')' if t.is_demo else ''}",
            f"base url: {self.base_url()}",
            f"database: {self.redact(dsn)}",
        ]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.evidence.take()  # evidence belongs to the check that gathered it
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        excinfo = call.excinfo
        # a check that could not look is "could not run"; in any other test (the suite's own tests under
        # tests/, another project's) a CouldNotRun is an error of that test, never a skip that keeps it green
        if excinfo is not None and excinfo.errisinstance(CouldNotRun) and is_check(item):
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"could not run: {excinfo.value}")
        scrub(report, self.redact)
        if is_check(item) and (call.when == "call" or report.outcome != "passed"):
            record = record_of(item, report, excinfo, self.evidence.take(), self.redact)
            record = waivers.on_report(self.target.waivers, item, report, record)
            report.user_properties.append((RECORD_KEY, record.to_dict()))
            if record.outcome == FAILED and report.failed:  # the finding and what it rests on, instead of a traceback
                report.longrepr = finding_text(record)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RECORD_KEY and isinstance(value, dict) and report.outcome == "rerun":  # retried: kept apart
                self.attempts.setdefault(report.nodeid, []).append(CheckRecord.from_dict(value))
            elif key == RECORD_KEY and isinstance(value, dict):
                self.records.append(CheckRecord.from_dict(value))

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.footprint.add_worker(node)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.clock.planned = sum(1 for item in session.items if is_check(item))
        self.clock.budget_s = run_budget(self.target, session.items)
        from scenescout_ir.pytest_plugin import retries

        retries.mark_items(self.config, self.target, session.items,
                           emergency_only=self.clock.budget_s == self.target.budget.emergency_s)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if is_check(item) and not self.clock.begin_check():  # before its fixtures: it costs nothing more
            # a skip, not a CouldNotRun: pytest formats no traceback for it (0.1 s a check, more on a loaded
            # machine: tens of checks cut short used to overrun the budget by seconds)
            pytest.skip(f"could not run: {self.clock.spent()}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = self.interrupted or self.signals.first
        if type(excinfo.value) is not KeyboardInterrupt:  # pytest or xdist stopping on purpose (-x, shouldstop)
            self.interrupted = self.interrupted or str(excinfo.value)
        self.interrupted = self.interrupted or "SIGINT (Ctrl-C)"

    def pytest_unconfigure(self) -> None:
        # the process is this run (pytest's command line, or an xdist worker): it ignores them until it exits
        self.signals.restore(main_run=self.is_worker or self.is_process_run())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            self.config.workeroutput[WORKER_KEY] = self.footprint.own()  # type: ignore[attr-defined]
            return
        self.footprint.add(self.footprint.own())
        # Decided before anything is written: from here a signal is absorbed, the verdict and the kept run whole.
        self.signals.finishing()
        self.interrupted = self.interrupted or self.signals.first
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:  # a run stopped half-way is never OK
            self.interrupted = self.interrupted or "an interruption"
        if self.interrupted:
            session.exitstatus = pytest.ExitCode.INTERRUPTED  # whatever pytest made of the stop
        self.interrupted = self.signals.described(self.interrupted)
        if self.records or self.interrupted:
            write_verdict(self, session)
        if self.is_process_run():
            # what the run has made is kept as it is from here: pytest's last full collections (at unconfigure,
            # for unraisable exceptions) walk only what is made after this, 0.1 s less a run; never in a process
            # that goes on after the run (pytest.main called in-process), where it would keep garbage for good
            gc.freeze()

    def is_process_run(self) -> bool:
        """This process is this run: pytest's command line (or a forked target run, given the run's arguments)."""
        return list(self.config.invocation_params.args) == sys.argv[1:]

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.verdict is not None:
            show_verdict(terminalreporter, self.verdict, self.verdict_file, self.write_error)
