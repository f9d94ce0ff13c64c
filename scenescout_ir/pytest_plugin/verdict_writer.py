"""The run's verdict, assembled once in the controlling process: the gate's waived and FLAKY checks, the
comparison with the last healthy run, the verdict file, the ``pytest_scenescout_verdict`` hook, the exit code."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from scenescout_ir.judge.verdict import EXIT_NOT_CHECKED, assemble
from scenescout_ir.pytest_plugin.last_healthy import compare_with_last_healthy

if TYPE_CHECKING:
    from scenescout_ir.pytest_plugin.plugin import Suite


def write_verdict(suite: Suite, session: pytest.Session) -> None:
    """Sets ``suite.verdict`` (and ``suite.write_error`` when the file cannot be written) and the exit status."""
    from scenescout_ir.pytest_plugin import gate  # not at import: pytest registers it as a plugin (plugin.py)

    records, gated = gate.before_verdict(suite)  # waived findings and FLAKY checks, listed apart
    verdict = assemble(
        records, target=suite.target.name, base_url=suite.redact(suite.base_url()),
        started_at=_iso(suite.started), finished_at=_iso(time.time()),
        duration_s=time.monotonic() - suite.clock.started_mono, footprint=suite.footprint.totals,
        interrupted=suite.interrupted, planned=suite.clock.planned, dependencies=suite.target.dependencies,
    )
    verdict = compare_with_last_healthy(verdict, suite.records, suite.verdict_file.parent, suite.target.name,
                                        suite.redact)
    suite.verdict = verdict = gate.after_verdict(verdict, gated)
    try:
        verdict.write(suite.verdict_file)
    except OSError as exc:
        suite.write_error = f"could not write {suite.verdict_file}: {exc.strerror}"
    suite.config.hook.pytest_scenescout_verdict(verdict=verdict, config=suite.config)
    if verdict.blind and session.exitstatus == 0:  # a component not checked is never a green gate
        session.exitstatus = EXIT_NOT_CHECKED
    session.exitstatus = gate.exit_status(suite, session.exitstatus)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
