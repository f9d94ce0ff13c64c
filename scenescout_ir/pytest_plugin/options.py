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


def misread_path_option(config: pytest.Config) -> str | None:
    """An option given apart from its value (``--targets-file /etc/x.toml``, ``--alluredir /tmp/results``) when
    that changed the project pytest found: pytest chooses the root dir and its settings before it loads the
    plugins, reading the value of a plugin's option as a test path when it exists, so a file or directory
    outside the checkout made the checkout's pytest settings (markers, warnings, testpaths) silently not apply,
    and the whole checkout was collected. The one line that says so, or None: the same choice made again with
    every option known, compared with the one pytest made."""
    from _pytest.config.findpaths import determine_setup

    args = [str(a) for a in config.invocation_params.args]
    invoked = Path(str(config.invocation_params.dir))
    try:
        ns = config._parser.parse_known_args(args)
        rootpath, inipath, _, _ = determine_setup(
            inifile=ns.inifilename, override_ini=ns.override_ini, args=ns.file_or_dir,
            rootdir_cmd_arg=ns.rootdir or None, invocation_dir=invoked)
    except Exception:  # noqa: BLE001 - pytest's internals changed: no second opinion, no false alarm
        return None
    if (rootpath, inipath) == (config.rootpath, config.inipath):
        return None
    positional = {str(a) for a in ns.file_or_dir}
    taken = [(args[i - 1], a) for i, a in enumerate(args) if i and a not in positional and args[i - 1].startswith("--")
             and "=" not in args[i - 1] and (invoked / a).exists()]  # the value of an option, read as a test path
    if not taken:
        return None
    flag, value = taken[0]
    env = f" (or set {_ENV[flag]})" if flag in _ENV else ""
    return (f"{flag} {value}: write it {flag}={value}{env}: given apart, pytest read {value} as a test path before "
            f"the plugins were loaded and took {config.rootpath} for the project's root, so "
            f"{inipath or rootpath}'s pytest settings would not apply")


_ENV = {flag: env for flag, env, _, _ in OPTIONS}
