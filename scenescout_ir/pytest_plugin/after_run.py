"""After the verdict: keep the run, log it in the incident, notify.

The Allure results are completed first (allure_evidence.py), then the run is kept under
``runs/<run id>/`` (report.py), its verdict appended to the open incident's log (incident.py) and, for
SEV1 and SEV2, a message posted to the team's webhook (notify.py). A failure in any of these is one line
at the end of the output: it never changes the run's outcome.

Registered with ``scenescout_ir.pytest_plugin.plugin`` (its ``pytest_plugins``), after
``scenescout_ir.pytest_plugin.allure_adapter``.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from scenescout_ir.incident import log as incident
from scenescout_ir.incident import notify
from scenescout_ir.judge.verdict import Verdict
from scenescout_ir.pytest_plugin.allure_adapter import PLUGIN_NAME, AllureEvidence
from scenescout_ir.pytest_plugin.plugin import suite
from scenescout_ir.reporting import report

LINES_PLUGIN = "scenescout_ir.pytest_plugin.after_run.lines"


class AfterRun:
    """The lines printed under the VERDICT block: where the run went, and what could not be done."""

    def __init__(self) -> None:
        self.lines: list[str] = []


def _after_run(config: pytest.Config) -> AfterRun:
    plugin = config.pluginmanager.get_plugin(LINES_PLUGIN)
    if plugin is None:
        plugin = AfterRun()
        config.pluginmanager.register(plugin, LINES_PLUGIN)
    assert isinstance(plugin, AfterRun)
    return plugin


@pytest.hookimpl
def pytest_scenescout_verdict(verdict: Verdict, config: pytest.Config) -> None:
    out = _after_run(config).lines
    s = suite(config)
    redact = s.redact
    evidence = config.pluginmanager.get_plugin(PLUGIN_NAME)
    results_dir: Path | None = None
    if isinstance(evidence, AllureEvidence):
        results_dir = evidence.results_dir
        try:
            evidence.finish(verdict)
        except OSError as exc:
            out.append(f"could not complete the Allure results in {_rel(results_dir)}: {exc.strerror}")
    reports_dir = s.verdict_file.parent
    incidents = incident.incidents_dir(s.root)
    run_dir: Path | None = None
    try:
        run_dir = report.archive_run(reports_dir, verdict, results_dir)
        moved = results_dir is not None and not results_dir.exists() and (run_dir / report.RESULTS).is_dir()
        if isinstance(evidence, AllureEvidence) and moved:  # this run's own results, now in the kept run
            evidence.moved_to(run_dir / report.RESULTS)
            report.link_latest(reports_dir, run_dir)
        protected = report.linked_runs(incident.logs(incidents))
        report.prune_runs(reports_dir, report.keep_runs(), protected | {run_dir.name})
        out.append(f"run kept in {_rel(run_dir)} (make report renders {_rel(run_dir / report.REPORT)})")
    except (OSError, report.ReportError) as exc:
        out.append(f"could not keep the run in {_rel(reports_dir / report.RUNS)}: {exc}")
    link = _relpath(run_dir / report.REPORT, incidents) if run_dir else None
    logged: Path | None = None
    try:
        logged = incident.append_event(
            incidents, incident.run_lines(verdict, report=link, selection=config.option.markexpr or ""),
            redact=redact,
        )
        if logged:
            out.append(f"findings appended to the open incident {_rel(logged)}")
    except incident.IncidentError as exc:
        out.append(f"could not append to the incident log: {exc}")
    message = notify.verdict_message(verdict, report=_rel(run_dir / report.REPORT) if run_dir else None,
                                     incident=logged.name if logged else None)
    if message is not None:
        sent = notify.send(message, redact=redact)
        if sent is not None:
            delivered, what = sent
            out.append(f"notification {'sent' if delivered else 'NOT sent'}: {what}")
            if logged:
                try:
                    incident.append_event(incidents, [
                        f"{incident.NOTIFIED}{verdict.label} to {what}" if delivered
                        else f"{incident.NOTIFIED}FAILED ({verdict.label}): {what}"
                    ], redact=redact)
                except incident.IncidentError as exc:
                    out.append(f"could not append to the incident log: {exc}")


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, None, None]:
    yield
    plugin = terminalreporter.config.pluginmanager.get_plugin(LINES_PLUGIN)
    for line in plugin.lines if isinstance(plugin, AfterRun) else ():
        terminalreporter.write_line(line)


def _relpath(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:
        return str(path)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
