"""The run's time budget as the probes see it: how long a wait may still be, and what to say when it is spent.

A check that would start after the budget is spent does not start (the pytest plugin). One that started just before it
waits at most what is left: an HTTP request or a page load is capped at the budget's end, less a small reserve for
the verdict and the browser's teardown. A wait cut short so is not an outage: an answer already later than the SLO
line is known slow before the wait ends (and reported slow), anything else "could not run: run budget of N s spent".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scenescout_ir.core.outcomes import CouldNotRun

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
