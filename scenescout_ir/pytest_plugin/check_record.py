"""One check's outcome as the verdict counts it: a pytest report turned into a redacted ``CheckRecord``.

Passed, failed (a finding), could not run, not applicable or broken; the finding's text replaces the traceback.
"""

from __future__ import annotations

import pytest

from scenescout_ir.core.conditions import CONDITIONS, UNCLASSIFIED
from scenescout_ir.core.evidence import Evidence
from scenescout_ir.core.outcomes import Blind, Finding
from scenescout_ir.core.redact import Redactor
from scenescout_ir.judge.verdict import BROKEN, COULD_NOT_RUN, FAILED, NOT_APPLICABLE, PASSED, CheckRecord

_FOUND = (AssertionError, pytest.fail.Exception)  # a check that says it found a problem


def scrub(report: pytest.TestReport, redact: Redactor) -> None:
    """No secret reaches the terminal, JUnit XML or a worker's report: redact it once, here."""
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = redact(str(report.longrepr))
    elif isinstance(report.longrepr, tuple):
        path, line, reason = report.longrepr
        report.longrepr = (path, line, redact(reason))
    report.sections = [(title, redact(text)) for title, text in report.sections]


def record_of(
    item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None,
    evidence: list[Evidence], redact: Redactor,
) -> CheckRecord:
    marker = item.get_closest_marker("condition")
    condition = marker.args[0] if marker else None
    outcome, summary, found = _outcome(report, excinfo)
    if found is not None:
        condition = found
    if outcome == FAILED and condition not in CONDITIONS:  # never dropped: an unclassified finding
        if condition:
            summary += f" (the check named an unknown condition {condition!r})"
        condition = UNCLASSIFIED
    return CheckRecord(
        nodeid=item.nodeid, check=item.name, outcome=outcome, condition=condition,
        summary=redact(summary), duration_s=round(report.duration, 3),
        evidence=[redact.data({"kind": e.kind, "title": e.title, "text": e.text, "data": e.data}) for e in evidence],
        blind=excinfo.value.component if excinfo is not None and isinstance(excinfo.value, Blind) else "",
    )


def _outcome(
    report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None
) -> tuple[str, str, str | None]:
    """The outcome, its summary, and the condition a ``Finding`` names (None: the marker's)."""
    if report.passed:
        return PASSED, "", None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ") if "could not run: " in reason[:30] else reason
        outcome = COULD_NOT_RUN if reason.startswith("could not run: ") else NOT_APPLICABLE
        return outcome, reason.removeprefix("Skipped: ").removeprefix("could not run: ").removeprefix(
            "not applicable: "), None
    if excinfo is not None and excinfo.errisinstance(_FOUND) and report.when == "call":
        return FAILED, summary_of(excinfo.value), excinfo.value.condition if isinstance(
            excinfo.value, Finding) else None
    if excinfo is None:
        return BROKEN, "error", None
    return BROKEN, f"{excinfo.typename}: {summary_of(excinfo.value)}", None


def finding_text(record: CheckRecord) -> str:
    lines = [record.summary, ""]
    for item in record.evidence:
        lines += [f"--- {item['kind']}: {item['title']}", item["text"], ""]
    return "\n".join(lines)


def summary_of(exc: BaseException) -> str:
    """The assertion message a person reads, without pytest's introspection lines."""
    text = str(exc).strip()
    if "\nassert " in text:
        text = text.split("\nassert ", 1)[0]
    if text.startswith("assert "):
        return "the check's condition did not hold (" + text.splitlines()[0] + ")"
    from scenescout_ir.core.summary import cut

    return cut(" ".join(line.strip() for line in text.splitlines() if line.strip()), 1000)
