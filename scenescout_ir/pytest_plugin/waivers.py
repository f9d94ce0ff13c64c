"""Waivers: a known, accepted finding that does not fail the gate until its expiry (InSpec's waivers).

    [targets.production.waivers]
    "test_no_broken_images" = { reason = "CDN migration, JIRA-123", expires = 2026-12-31 }
    "test_route_answers[/map]" = { reason = "map page rebuilt next sprint", expires = 2026-12-15 }

A waiver names a check (every parameter of it) or a check and its parameter (``name[param]``), a reason and
the last day it holds. While it holds, a finding of that check is reported as WAIVED with its reason in every
run (the verdict block, verdict.json ``waived``, Allure: a skipped result whose message starts with WAIVED)
and does not count for the verdict or the exit code. From the day after ``expires`` the finding counts again,
its summary saying "waiver expired on ...". A waiver without a reason or an expiry (config.py), or naming no
check of the suite (``unknown_checks``), is a configuration error: exit 4, one line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scenescout_ir.core.config import Waiver
from scenescout_ir.judge.verdict import FAILED, CheckRecord

WAIVED = "WAIVED"
CHECK_DIRS = ("checks", "scenarios")


def today() -> date:
    return date.today()


def matching(waivers: Iterable[Waiver], name: str) -> Waiver | None:
    """The waiver for check ``name`` (``test_x[param]``): one naming it exactly first, else its function."""
    waivers = list(waivers)
    exact = next((w for w in waivers if w.check == name), None)
    return exact or next((w for w in waivers if w.check == name.split("[", 1)[0]), None)


def holds(waiver: Waiver, on: date) -> bool:
    """A waiver holds up to and including its ``expires`` day."""
    return waiver.expires is not None and on <= waiver.expires


def waived_line(waiver: Waiver) -> str:
    return f"{WAIVED} until {waiver.expires}: {waiver.reason}"


def expired_note(waiver: Waiver) -> str:
    return f" (waiver expired on {waiver.expires}: {waiver.reason})"


def split(records: list[CheckRecord], waivers: Iterable[Waiver], on: date) -> tuple[list[CheckRecord],
                                                                                  list[dict[str, Any]]]:
    """The records the verdict counts, and the waived findings (each with its waiver) it lists apart."""
    from scenescout_ir.core.conditions import CONDITIONS, UNCLASSIFIED

    waivers = list(waivers)
    kept: list[CheckRecord] = []
    waived: list[dict[str, Any]] = []
    for record in records:
        waiver = matching(waivers, record.check) if record.outcome == FAILED else None
        if waiver is None or not holds(waiver, on):
            kept.append(record)
            continue
        cond = CONDITIONS.get(record.condition or "") or CONDITIONS[UNCLASSIFIED]
        waived.append({
            "check": record.check, "component": cond.component, "condition": cond.name,
            "severity": cond.severity.name, "summary": record.summary, "waiver": waiver.check,
            "reason": waiver.reason, "expires": str(waiver.expires), "evidence": record.evidence,
        })
    return kept, waived


def known_checks(roots: Iterable[Path]) -> set[str]:
    """The name of every check function in checks/ and scenarios/ of ``roots`` (read, not imported)."""
    names: set[str] = set()
    for root in roots:
        for directory in CHECK_DIRS:
            for path in sorted((root / directory).glob("test_*.py")):
                try:
                    tree = ast.parse(path.read_text(encoding="utf-8"))
                except (OSError, SyntaxError, UnicodeDecodeError):
                    continue
                names |= {node.name for node in ast.walk(tree)
                          if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")}
    return names


def unknown_checks(waivers: Iterable[Waiver], known: set[str], collected: Iterable[str]) -> list[str]:
    """Waivers naming no check: an unknown function, or a parameter no collected check of that function has."""
    collected = set(collected)
    bad = []
    for waiver in waivers:
        function = waiver.check.split("[", 1)[0]
        if function not in known or "[" in waiver.check and any(c.startswith(function + "[") for c in collected) \
                and waiver.check not in collected:
            bad.append(waiver.check)
    return bad


def on_report(waivers: tuple[Waiver, ...], item: pytest.Item, report: pytest.TestReport,
              record: CheckRecord) -> CheckRecord:
    """A check's finding under a waiver that holds is reported skipped (``WAIVED until ...: reason: finding``),
    so it fails neither pytest's exit code nor the JUnit file; one whose waiver expired says so in its finding."""
    waiver = matching(waivers, record.check) if record.outcome == FAILED and waivers else None
    if waiver is None:
        return record
    if not holds(waiver, today()):
        return replace(record, summary=record.summary + expired_note(waiver))
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, f"{waived_line(waiver)}: {record.summary}")
    return record


def check_names(target: Any, items: list[pytest.Item], roots: Iterable[Path]) -> None:
    """Before anything runs: a waiver naming no check of the suite is a usage error (exit 4, one line)."""
    waivers = target.waivers
    if not waivers:
        return
    bad = unknown_checks(waivers, known_checks(roots), (item.name for item in items))
    if bad:
        raise pytest.UsageError(
            f"targets.{target.name}.waivers: {', '.join(repr(b) for b in bad)} names no check of the suite: name a "
            "check as `python -m scenescout_ir checks` lists it (test_x, or test_x[parameter])"
        )


def on_allure_result(result: Any, record: CheckRecord, waivers: tuple[Waiver, ...]) -> None:
    """In Allure a waived finding is a skipped result whose message starts with ``WAIVED until ...: reason``
    (the finding after it), tagged WAIVED; its evidence stays attached."""
    from allure_commons.model2 import Label, Status, StatusDetails

    waiver = matching(waivers, record.check) if record.outcome == FAILED and waivers else None
    if waiver is None or not holds(waiver, today()):
        return
    details = result.statusDetails or StatusDetails()
    details.message = f"{waived_line(waiver)}: {details.message or record.summary}"
    result.statusDetails = details
    result.status = Status.SKIPPED
    result.labels.append(Label("tag", WAIVED))
