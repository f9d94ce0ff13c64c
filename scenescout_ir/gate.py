"""The deploy gate: waived findings and FLAKY checks in the verdict and the exit code, and many targets in
one run (``--target production --target staging``, ``--target all``).

A run of several targets starts one child pytest per target at once (each with its own verdict file and
reports dir, ``reports/targets/<name>/``, so each keeps its run and appends its own incident-log line), prints
each target's verdict block as it finishes, then merges them (merge.py) into ``reports/verdict.json`` with
one combined line: the worst severity, per target. Its exit code is the merge's (merge.py ``exit_code``).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from . import retries, waivers

if TYPE_CHECKING:
    from .plugin import Suite
    from .verdict import CheckRecord, Verdict

ALL = "all"
TARGETS_DIR = "targets"  # reports/targets/<name>/: each target's own verdict file, kept runs, JUnit
CHILD_ENV = "SCENESCOUT_GATE_CHILD"  # set in a target's child run: it never fans out again


# --- waived findings and FLAKY checks: one verdict ------------------------------------------------------


def before_verdict(suite: Suite) -> tuple[list[CheckRecord], dict[str, Any]]:
    """The records the verdict counts (a waived finding is listed apart), a check failing on every attempt
    says so, and the FLAKY checks with every attempt."""
    records = [retries.failed_every_attempt(r, suite.attempts) for r in suite.records]
    kept, waived = waivers.split(records, suite.target.waivers, waivers.today())
    return kept, {"waived": waived, "flaky": retries.flaky(records, suite.attempts)}


def after_verdict(verdict: Verdict, gated: dict[str, Any]) -> Verdict:
    if not gated["waived"] and not gated["flaky"]:
        return verdict
    counts = dict(verdict.counts)
    counts["waived"] = len(gated["waived"])
    counts["flaky"] = len(gated["flaky"])
    counts["total"] += len(gated["waived"])
    return replace(verdict, waived=gated["waived"], flaky=gated["flaky"], counts=counts)


def exit_status(suite: Suite, status: int | pytest.ExitCode) -> int | pytest.ExitCode:
    """A FLAKY-only run exits 0, or EXIT_FLAKY when the gate asks for it (--flaky-fails, flaky_fails)."""
    verdict = suite.verdict
    if verdict is None or not verdict.flaky or status != 0:
        return status
    return retries.EXIT_FLAKY if retries.flaky_fails(suite.config, suite.target) else status


# --- many targets in one run --------------------------------------------------------------------------


class _Targets(argparse.Action):
    """``--target`` as given: repeated, each value kept (the last is the one a single run checks)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        given = list(getattr(namespace, "targets_given", None) or [])
        given += [v for v in str(values).split(",") if v]
        namespace.targets_given = given
        setattr(namespace, self.dest, given[-1] if given else values)


def target_action() -> type[argparse.Action]:
    return _Targets
