"""The suite's command-line options (each with its environment default) and the paths they name.

Declared once, in one ``pytest_addoption`` group; ``option_path`` reads a path option as the user means it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scenescout_ir.core.config import DEFAULT_TARGET, DEFAULT_TARGETS_FILE

DEFAULT_VERDICT_FILE = "reports/verdict.json"

OPTIONS = (
    ("--target", "SCENESCOUT_TARGET", DEFAULT_TARGET,
     "target from targets.toml to check; repeated (or a,b or all): each checked at once, one combined verdict"),
    ("--targets-file", "SCENESCOUT_TARGETS_FILE", DEFAULT_TARGETS_FILE, "the targets file"),
    ("--verdict-file", "SCENESCOUT_VERDICT_FILE", DEFAULT_VERDICT_FILE, "where to write the verdict JSON"),
    ("--since", "SCENESCOUT_SINCE", "",
     "ingestion recovery: new events expected since this ISO time (default: the open incident's start, "
     "else 15 minutes ago)"),
)


def add_options(parser: pytest.Parser) -> None:
    from scenescout_ir.pytest_plugin.target_option import TargetsGiven

    group = parser.getgroup("scenescout", "SceneScout incident response")
    for flag, env, default, help_text in OPTIONS:
        group.addoption(
            flag, default=os.environ.get(env, default), metavar="VALUE",
            help=f"{help_text} (env {env}; default {default}).",
            **({"action": TargetsGiven} if flag == "--target" else {}),  # repeated: many targets (gate.py)
        )
    # --base-url is pytest-playwright's (or pytest-base-url's) option; the suite reads it from there.


def option_path(config: pytest.Config, name: str) -> Path:
    """A path option as the user means it: a value given (command line or environment) relative to the
    directory pytest was invoked from; the default relative to that directory when the file is there, else
    to the project root (reports/, targets.toml of the checkout)."""
    value = Path(config.getoption(name))
    if value.is_absolute():
        return value
    invoked = Path(str(config.invocation_params.dir))
    default = next(d for flag, _, d, _ in OPTIONS if flag == "--" + name.replace("_", "-"))
    if str(value) != default or (name == "targets_file" and (invoked / value).exists()):
        return invoked / value
    return Path(str(config.rootpath)) / value


def active(config: pytest.Config) -> bool:
    """The suite works in this run when it has a targets file to read (the default one, or one named by
    --targets-file / $SCENESCOUT_TARGETS_FILE) or a target named; otherwise it is dormant."""
    given = config.getoption("targets_file") != DEFAULT_TARGETS_FILE or config.getoption("target") != DEFAULT_TARGET
    return given or option_path(config, "targets_file").is_file()
