"""The three outcomes of a check, kept apart: it passes, it finds a problem, or it could not run."""

from __future__ import annotations


class Finding(AssertionError):
    """A product problem whose playbook condition differs from the check's default one.

    ``raise Finding("significant_degradation", "mean 12.3 s over 10 samples (limit: 10 s)")``
    """

    def __init__(self, condition: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition


class CouldNotRun(Exception):
    """A suite problem: the check could not look (dependency down, missing table, permission, config).

    Reported with its reason, never counted as an incident.
    """


class ConfigError(Exception):
    """A problem with targets.toml or an option: one line naming the problem and the fix."""


class Blind(CouldNotRun):
    """A whole component could not be checked because of the suite's own credentials or configuration.

    Not an incident, and never a silent OK: the verdict prints it loudly and the run exits with
    ``verdict.EXIT_NOT_CHECKED`` when nothing was found.
    """

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component
