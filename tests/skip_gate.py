"""A green run of the suite's own tests means every test ran and passed: a skip fails the run unless its test
declares it expected, with the reason it is acceptable, by ``@pytest.mark.expected_skip(reason="...")``.
The allow-list is the tests carrying that marker (``grep -rn expected_skip tests``).

Works under xdist: a worker marks the report of a declared skip (``user_properties`` travel with it), the
controller counts the skips from the reports it receives and sets the exit status when the session ends.
"""

from __future__ import annotations

from typing import Any

import pytest

MARKER = "expected_skip"
DECLARED = "tests.skip_gate.expected_skip"  # the user property a declared skip's report carries


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): this test may skip, and why that is acceptable; any other skip fails the run",
    )
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist) judges the run
        config.pluginmanager.register(SkipGate(), "tests.skip_gate.controller")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is not None and (marker.args or not str(marker.kwargs.get("reason", "")).strip()):
            raise pytest.UsageError(
                f'{item.nodeid}: @pytest.mark.{MARKER} takes one argument, reason="why this skip is acceptable"'
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    marker = item.get_closest_marker(MARKER)
    if report.skipped and marker is not None:
        report.user_properties.append((DECLARED, marker.kwargs["reason"]))
    return report


class SkipGate:
    """The skips of the run, as the controlling process sees them; the undeclared ones fail it."""

    def __init__(self) -> None:
        self.declared = 0
        self.unexpected: dict[str, str] = {}  # node id -> the skip's reason (each xdist worker collects all)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.skipped:
            return
        if any(key == DECLARED for key, _ in report.user_properties):
            self.declared += 1
        else:
            self.unexpected[report.nodeid] = _reason(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:  # a whole module skipped: no test of it can declare that
            self.unexpected[report.nodeid] = _reason(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.unexpected and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.unexpected:
            return
        tr = terminalreporter
        tr.section(f"unexpected skips: {len(self.unexpected)}", sep="=", red=True, bold=True)
        tr.write_line(f"a skip fails the run unless its test declares it with @pytest.mark.{MARKER}(reason=...) "
                      "(tests/skip_gate.py)")
        for nodeid, reason in self.unexpected.items():
            tr.write_line(f"SKIPPED {nodeid}: {reason}")


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    if hasattr(report, "wasxfail"):  # an expected failure did not pass either
        return f"xfail: {report.wasxfail}"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple | list) and len(longrepr) == 3:  # a list when it came from an xdist worker
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
