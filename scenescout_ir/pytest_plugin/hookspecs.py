"""Hooks other parts of the suite (evidence, incident log, notification) implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from scenescout_ir.judge.verdict import Verdict


@pytest.hookspec
def pytest_scenescout_verdict(verdict: Verdict, config: pytest.Config) -> None:
    """Called once per run in the controlling process, after the verdict is assembled and written."""
