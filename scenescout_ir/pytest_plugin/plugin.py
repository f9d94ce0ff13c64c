"""The pytest plugin: options, the three outcomes of a check, evidence, redaction and the verdict.

Checks are ordinary pytest tests marked ``emergency``, ``comprehensive`` or ``performance``. Each one's
outcome is turned into a :class:`~scenescout_ir.judge.verdict.CheckRecord` here, in the process that ran it,
and carried in ``report.user_properties`` so the controlling process of an ``-n auto`` run assembles the
same verdict from what its workers report.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scenescout_ir.core.conditions import CONDITIONS, UNCLASSIFIED
from scenescout_ir.core.config import DEFAULT_TARGET, DEFAULT_TARGETS_FILE, Target, load_target
from scenescout_ir.core.evidence import EvidenceLog
from scenescout_ir.core.outcomes import Blind, ConfigError, CouldNotRun, Finding
from scenescout_ir.core.redact import Redactor, safe_dsn
from scenescout_ir.judge.verdict import (
    BROKEN,
    COULD_NOT_RUN,
    FAILED,
    NOT_APPLICABLE,
    PASSED,
    CheckRecord,
    Verdict,
    assemble,
)
from scenescout_ir.pytest_plugin import waivers
from scenescout_ir.pytest_plugin.interrupt import StopPoints

# Registered with this module, early enough for their options (the pytest11 entry point loads this one).
pytest_plugins = (
    "scenescout_ir.pytest_plugin.allure_adapter", "scenescout_ir.pytest_plugin.after_run",
    "scenescout_ir.pytest_plugin.watch", "scenescout_ir.pytest_plugin.retries",
    "scenescout_ir.pytest_plugin.gate",  # gate after watch: its cmdline_main first
)

CHECK_MARKERS = ("emergency", "comprehensive", "performance")
RECORD_KEY = "scenescout_ir.check"
DEFAULT_VERDICT_FILE = "reports/verdict.json"
BUDGET_SPENT = "run budget"  # "could not run: run budget of 15 s spent": a check cut short
_FOUND = (AssertionError, pytest.fail.Exception)  # a check that says it found a problem

_OPTIONS = (
    ("--target", "SCENESCOUT_TARGET", DEFAULT_TARGET,
     "target from targets.toml to check; repeated (or a,b or all): each checked at once, one combined verdict"),
    ("--targets-file", "SCENESCOUT_TARGETS_FILE", DEFAULT_TARGETS_FILE, "the targets file"),
    ("--verdict-file", "SCENESCOUT_VERDICT_FILE", DEFAULT_VERDICT_FILE, "where to write the verdict JSON"),
    ("--since", "SCENESCOUT_SINCE", "",
     "ingestion recovery: new events expected since this ISO time (default: the open incident's start, "
     "else 15 minutes ago)"),
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from scenescout_ir.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    from scenescout_ir.pytest_plugin.target_option import TargetsGiven

    group = parser.getgroup("scenescout", "SceneScout incident response")
    for flag, env, default, help_text in _OPTIONS:
        group.addoption(
            flag, default=os.environ.get(env, default), metavar="VALUE",
            help=f"{help_text} (env {env}; default {default}).",
            **({"action": TargetsGiven} if flag == "--target" else {}),  # repeated: many targets (gate.py)
        )
    # --base-url is pytest-playwright's (or pytest-base-url's) option; the suite reads it from there.


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


def active(config: pytest.Config) -> bool:
    """The suite works in this run when it has a targets file to read (the default one, or one named by
    --targets-file / $SCENESCOUT_TARGETS_FILE) or a target named; otherwise it is dormant."""
    given = config.getoption("targets_file") != DEFAULT_TARGETS_FILE or config.getoption("target") != DEFAULT_TARGET
    return given or option_path(config, "targets_file").is_file()


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


def option_path(config: pytest.Config, name: str) -> Path:
    """A path option as the user means it: a value given (command line or environment) relative to the
    directory pytest was invoked from; the default relative to that directory when the file is there, else
    to the project root (reports/, targets.toml of the checkout)."""
    value = Path(config.getoption(name))
    if value.is_absolute():
        return value
    invoked = Path(str(config.invocation_params.dir))
    default = next(d for flag, _, d, _ in _OPTIONS if flag == "--" + name.replace("_", "-"))
    if str(value) != default or (name == "targets_file" and (invoked / value).exists()):
        return invoked / value
    return Path(str(config.rootpath)) / value


def suite(config: pytest.Config) -> Suite:
    plugin = config.pluginmanager.get_plugin("scenescout_ir.suite")
    if not isinstance(plugin, Suite):
        raise pytest.UsageError(f"{DEFAULT_TARGETS_FILE} not found: create it or pass --targets-file PATH")
    return plugin


def is_check(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(m) for m in CHECK_MARKERS)


class Suite:
    """Per-run state: the target, the evidence of the check running now, the records, the verdict."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = Path(str(config.rootpath))
        targets_file = option_path(config, "targets_file")
        base_url = config.getoption("base_url", default=None) or None
        try:
            self.target: Target = load_target(targets_file, config.getoption("target"), base_url)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.verdict_file = option_path(config, "verdict_file")
        self.evidence = EvidenceLog()
        self.records: list[CheckRecord] = []
        self.attempts: dict[str, list[CheckRecord]] = {}  # nodeid -> its failed attempts before a retry (retries.py)
        self.verdict: Verdict | None = None
        self.write_error: str | None = None
        self._redactor: Redactor | None = None
        self._started = time.time()
        self._started_mono = time.monotonic()
        self.is_worker = hasattr(config, "workerinput")
        self.probes: list[Any] = []  # the session's probes, for the footprint the run left on the target
        self.footprint: dict[str, int] = {}
        self.interrupted: str | None = None  # the signal that stopped the run (issue 8, item 5)
        self.planned = 0  # checks selected to run
        self.budget_s = self.target.budget.comprehensive_s  # the run's time budget, decided at collection
        stops = StopPoints(config)  # SIGINT, SIGTERM, SIGHUP: one orderly stop, later ones absorbed (issue 15)
        config.pluginmanager.register(stops, "scenescout_ir.stops")
        self.signals = stops.signals
        self.signals.install()
        from scenescout_ir.core.budget import RESERVE_S

        self.budget_reserve_s = RESERVE_S  # what the run's end needs after the last wait (more once Chromium runs)
        self.checks_begun = 0

    # --- redaction -----------------------------------------------------------------------------------
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
        self._scrub(report)
        if is_check(item) and (call.when == "call" or report.outcome != "passed"):
            record = waivers.on_report(self.target.waivers, item, report, self._record(item, report, excinfo))
            report.user_properties.append((RECORD_KEY, record.to_dict()))
            if record.outcome == FAILED and report.failed:  # the finding and what it rests on, instead of a traceback
                report.longrepr = _finding_text(record)
        return report

    def _scrub(self, report: pytest.TestReport) -> None:
        """No secret reaches the terminal, JUnit XML or a worker's report: redact it once, here."""
        if report.longrepr is not None and not isinstance(report.longrepr, tuple):
            report.longrepr = self.redact(str(report.longrepr))
        elif isinstance(report.longrepr, tuple):
            path, line, reason = report.longrepr
            report.longrepr = (path, line, self.redact(reason))
        report.sections = [(title, self.redact(text)) for title, text in report.sections]

    def _record(
        self, item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None
    ) -> CheckRecord:
        marker = item.get_closest_marker("condition")
        condition = marker.args[0] if marker else None
        if report.passed:
            outcome, summary = PASSED, ""
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ") if "could not run: " in reason[:30] else reason
            outcome = COULD_NOT_RUN if reason.startswith("could not run: ") else NOT_APPLICABLE
            summary = reason.removeprefix("Skipped: ").removeprefix("could not run: ").removeprefix("not applicable: ")
        elif excinfo is not None and excinfo.errisinstance(_FOUND) and report.when == "call":
            outcome, summary = FAILED, _summary(excinfo.value)
            if isinstance(excinfo.value, Finding):
                condition = excinfo.value.condition
        else:
            outcome = BROKEN
            summary = _summary(excinfo.value) if excinfo else "error"
            summary = f"{excinfo.typename}: {summary}" if excinfo else summary
        if outcome == FAILED and condition not in CONDITIONS:  # never dropped: an unclassified finding
            if condition:
                summary += f" (the check named an unknown condition {condition!r})"
            condition = UNCLASSIFIED
        evidence = [self.redact.data({"kind": e.kind, "title": e.title, "text": e.text, "data": e.data})
                    for e in self.evidence.take()]
        return CheckRecord(
            nodeid=item.nodeid, check=item.name, outcome=outcome, condition=condition,
            summary=self.redact(summary), duration_s=round(report.duration, 3), evidence=evidence,
            blind=excinfo.value.component if excinfo is not None and isinstance(excinfo.value, Blind) else "",
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RECORD_KEY and isinstance(value, dict) and report.outcome == "rerun":  # retried: kept apart
                self.attempts.setdefault(report.nodeid, []).append(CheckRecord.from_dict(value))
            elif key == RECORD_KEY and isinstance(value, dict):
                self.records.append(CheckRecord.from_dict(value))

    def own_footprint(self) -> dict[str, int]:
        counts = {"db_connections": 0, "db_statements": 0, "http_requests": 0}
        for probe in self.probes:
            counts["db_connections"] += getattr(probe, "connections_opened", 0)
            counts["db_statements"] += getattr(probe, "statements_run", 0)
            counts["http_requests"] += getattr(probe, "requests_made", 0)
        return counts

    def _add_footprint(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.footprint[key] = self.footprint.get(key, 0) + value

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: each worker's footprint comes back with it."""
        self._add_footprint(getattr(node, "workeroutput", {}).get("scenescout_footprint", {}))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.planned = sum(1 for item in session.items if is_check(item))
        self.budget_s = run_budget(self.target, session.items)
        from scenescout_ir.pytest_plugin import retries

        retries.mark_items(self.config, self.target, session.items,
                           emergency_only=self.budget_s == self.target.budget.emergency_s)

    def budget_left(self) -> float:
        """Seconds left of the run's time budget (issue 8, item 10); probes may cap their waits by it."""
        return self.budget_s - (time.monotonic() - self._started_mono)

    def budget_spent(self) -> str:
        return f"{BUDGET_SPENT} of {self.budget_s:g} s spent (targets.{self.target.name}.budget)"

    def run_budget(self) -> Any:
        """What the probes cap their waits by (budget.py): a check started just before the end waits only
        what is left of the budget."""
        from scenescout_ir.core.budget import RunBudget

        return RunBudget(lambda: self.budget_left() - self.budget_reserve(), self.budget_spent)

    def budget_reserve(self) -> float:
        """What the run's end needs after the last wait: the verdict, closing Chromium once it runs, and the
        checks still to be reported (each cut short costs a little: its report, its Allure result)."""
        from scenescout_ir.core.budget import PER_CHECK_S

        return self.budget_reserve_s + PER_CHECK_S * max(self.planned - self.checks_begun, 0)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not is_check(item):
            return
        self.checks_begun += 1
        if self.budget_left() <= self.budget_reserve():  # before its fixtures: it costs nothing more
            # a skip, not a CouldNotRun: pytest formats no traceback for it (0.1 s a check, more on a loaded
            # machine: tens of checks cut short used to overrun the budget by seconds)
            pytest.skip(f"could not run: {self.budget_spent()}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = self.interrupted or self.signals.first
        if type(excinfo.value) is not KeyboardInterrupt:  # pytest or xdist stopping on purpose (-x, shouldstop)
            self.interrupted = self.interrupted or str(excinfo.value)
        self.interrupted = self.interrupted or "SIGINT (Ctrl-C)"

    def pytest_unconfigure(self) -> None:
        # the process is this run (pytest's command line, or an xdist worker): it ignores them until it exits
        self.signals.restore(main_run=self.is_worker or list(self.config.invocation_params.args) == sys.argv[1:])

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            self.config.workeroutput["scenescout_footprint"] = self.own_footprint()  # type: ignore[attr-defined]
            return
        self._add_footprint(self.own_footprint())
        # Decided before anything is written: from here a signal is absorbed, the verdict and the kept run whole.
        self.signals.finishing()
        self.interrupted = self.interrupted or self.signals.first
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:  # a run stopped half-way is never OK
            self.interrupted = self.interrupted or "an interruption"
        if self.interrupted:
            session.exitstatus = pytest.ExitCode.INTERRUPTED  # whatever pytest made of the stop
        self.interrupted = self.signals.described(self.interrupted)
        if not self.records and not self.interrupted:
            return
        from scenescout_ir.pytest_plugin import gate

        records, gated = gate.before_verdict(self)  # waived findings and FLAKY checks, listed apart
        self.verdict = assemble(
            records, target=self.target.name, base_url=self.redact(self.base_url()),
            started_at=_iso(self._started), finished_at=_iso(time.time()),
            duration_s=time.monotonic() - self._started_mono, footprint=self.footprint,
            interrupted=self.interrupted, planned=self.planned, dependencies=self.target.dependencies,
        )
        self.verdict = gate.after_verdict(self._compare_with_last_healthy(self.verdict), gated)
        try:
            self.verdict.write(self.verdict_file)
        except OSError as exc:
            self.write_error = f"could not write {self.verdict_file}: {exc.strerror}"
        self.config.hook.pytest_scenescout_verdict(verdict=self.verdict, config=self.config)
        if self.verdict.blind and session.exitstatus == 0:  # a component not checked is never a green gate
            from scenescout_ir.judge.verdict import EXIT_NOT_CHECKED

            session.exitstatus = EXIT_NOT_CHECKED
        session.exitstatus = gate.exit_status(self, session.exitstatus)

    def _compare_with_last_healthy(self, verdict: Verdict) -> Verdict:
        """An OK run's fingerprint becomes the last healthy one; any other run is compared with it."""
        from scenescout_ir.judge import fingerprint

        fp = fingerprint.build([r.to_dict() for r in self.records], verdict.started_at)
        path = fingerprint.fingerprint_file(self.verdict_file.parent, self.target.name)
        healthy_run = verdict.severity is None and not verdict.interrupted and not verdict.blind
        try:
            last = fingerprint.load(path)
            if healthy_run and verdict.counts["passed"]:
                fingerprint.save(path, fingerprint.merge(last, fp), self.redact)
                return replace(verdict, fingerprint=fp)
        except OSError:  # a fingerprint is a help, never a reason for a run to fail
            return replace(verdict, fingerprint=fp)
        if last is None or verdict.severity is None:
            return replace(verdict, fingerprint=fp)
        changes = [c.to_dict() for c in fingerprint.diff(last, fp)]
        return replace(verdict, fingerprint=fp, changes=changes, changes_since=str(last.get("taken_at")))

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.verdict is None:
            return
        tr = terminalreporter
        severity = self.verdict.severity
        markup = {"green": True} if severity is None and not self.verdict.blind else {"red": True} if (
            severity is None or severity <= 2) else {"yellow": True}
        if self.verdict.interrupted and severity is None:
            markup = {"yellow": True}
        tr.section("verdict", sep="=", bold=True, **markup)
        lines = self.verdict.lines()
        tr.write_line(lines[0], bold=True, **markup)
        for line in lines[1:]:
            tr.write_line(line)
        tr.write_line(self.write_error or f"verdict written to {_relative(self.verdict_file)}")


def run_budget(target: Target, items: list[pytest.Item]) -> float:
    """Emergency checks only: the emergency budget; any comprehensive or performance check: the longer one.
    (Every emergency check is marked comprehensive too, so a comprehensive check is one that is not emergency.)"""
    full = any(item.get_closest_marker("performance")
               or (item.get_closest_marker("comprehensive") and not item.get_closest_marker("emergency"))
               for item in items)
    return target.budget.comprehensive_s if full else target.budget.emergency_s


def _finding_text(record: CheckRecord) -> str:
    lines = [record.summary, ""]
    for item in record.evidence:
        lines += [f"--- {item['kind']}: {item['title']}", item["text"], ""]
    return "\n".join(lines)


def _summary(exc: BaseException) -> str:
    """The assertion message a person reads, without pytest's introspection lines."""
    text = str(exc).strip()
    if "\nassert " in text:
        text = text.split("\nassert ", 1)[0]
    if text.startswith("assert "):
        return "the check's condition did not hold (" + text.splitlines()[0] + ")"
    from scenescout_ir.core.summary import cut

    return cut(" ".join(line.strip() for line in text.splitlines() if line.strip()), 1000)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
