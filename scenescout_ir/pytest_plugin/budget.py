"""The run's clock as the plugin keeps it: the budget decided at collection, counted from the run's start, less a
reserve for the run's end; the probes see it as a ``RunBudget`` (core/budget.py)."""

from __future__ import annotations

import time

import pytest

from scenescout_ir.core.budget import BUDGET_SPENT, PER_CHECK_S, RESERVE_S, RunBudget
from scenescout_ir.core.config import Target


class RunClock:
    """The run's time budget as the plugin keeps it: decided at collection (``run_budget``), counted from the
    run's start, less a reserve for the run's end and each check still to be reported."""

    def __init__(self, budget_s: float, target_name: str) -> None:
        self.budget_s = budget_s
        self.target_name = target_name
        self.started_mono = time.monotonic()
        self.reserve_s = RESERVE_S  # what the run's end needs after the last wait (more once Chromium runs)
        self.planned = 0  # checks selected to run
        self.checks_begun = 0

    def left(self) -> float:
        """Seconds left of the run's time budget (issue 8, item 10); probes may cap their waits by it."""
        return self.budget_s - (time.monotonic() - self.started_mono)

    def spent(self) -> str:
        return f"{BUDGET_SPENT} of {self.budget_s:g} s spent (targets.{self.target_name}.budget)"

    def reserve(self) -> float:
        """What the run's end needs after the last wait: the verdict, closing Chromium once it runs, and the
        checks still to be reported (each cut short costs a little: its report, its Allure result)."""
        return self.reserve_s + PER_CHECK_S * max(self.planned - self.checks_begun, 0)

    def for_probes(self) -> RunBudget:
        """What the probes cap their waits by: a check started just before the end waits only what is left."""
        return RunBudget(lambda: self.left() - self.reserve(), self.spent)

    def begin_check(self) -> bool:
        """A check is about to start; False when the budget is spent (it is then cut short, before its fixtures)."""
        self.checks_begun += 1
        return self.left() > self.reserve()


def run_budget(target: Target, items: list[pytest.Item]) -> float:
    """Emergency checks only: the emergency budget; any comprehensive or performance check: the longer one.
    (Every emergency check is marked comprehensive too, so a comprehensive check is one that is not emergency.)"""
    full = any(item.get_closest_marker("performance")
               or (item.get_closest_marker("comprehensive") and not item.get_closest_marker("emergency"))
               for item in items)
    return target.budget.comprehensive_s if full else target.budget.emergency_s
