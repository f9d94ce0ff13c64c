"""The run's time budget as the probes see it: how long a wait may still be, and what to say when it is spent.

A check that would start after the budget is spent does not start (plugin.py). One that started just before it
waits at most what is left: an HTTP request or a page load is capped at the budget's end, less a small reserve for
the verdict and the browser's teardown. A wait cut short so is not an outage: an answer already later than the SLO
line is known slow before the wait ends (and reported slow), anything else "could not run: run budget of N s spent".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scenescout_ir.core.outcomes import CouldNotRun

if TYPE_CHECKING:
    import pytest

    from scenescout_ir.core.config import Target

RESERVE_S = 0.5  # kept for what follows the last wait: the verdict and the kept run
BROWSER_RESERVE_S = 1.5  # and, once Chromium runs, closing it (about 1 s on a loaded 2-core machine)
PER_CHECK_S = 0.03  # and each check still to come, cut short (its report and Allure result; a loaded machine)
MIN_WAIT_S = 0.05


@dataclass(frozen=True)
class RunBudget:
    left: Callable[[], float]  # seconds left of the run's budget, less what its end needs (RESERVE_S...)
    spent_reason: Callable[[], str]  # "run budget of 15 s spent (targets.prod.budget)"

    def cap(self, wait_s: float) -> tuple[float, bool]:
        """``wait_s``, or what is left of the budget when that is shorter (and True: the wait was capped)."""
        left = self.left()
        if left < wait_s:
            return max(left, MIN_WAIT_S), True
        return wait_s, False

    def spent(self, doing: str) -> CouldNotRun:
        return CouldNotRun(f"{self.spent_reason()} while {doing}")


BUDGET_SPENT = "run budget"  # "could not run: run budget of 15 s spent": a check cut short


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
