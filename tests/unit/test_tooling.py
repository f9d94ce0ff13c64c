"""The project's own tooling says what it does: the Makefile's .PHONY list, CI's steps, the warnings filters."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_phony_name_is_a_target_of_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    (phony,) = re.findall(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    missing = sorted(set(phony.split()) - targets)
    assert not missing, f".PHONY names targets the Makefile lacks: {', '.join(missing)}"


def test_ci_runs_the_linters_then_the_readmes_test_command():
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make")]
    assert steps == ["make lint", "make test"]


def test_every_warnings_filter_gives_its_reason_and_none_ignores_a_whole_category():
    text = (ROOT / "pyproject.toml").read_text()
    filters = tomllib.loads(text)["tool"]["pytest"]["ini_options"]["filterwarnings"]
    block = text.split("filterwarnings = [", 1)[1].split("\n]", 1)[0].splitlines()
    for entry in filters:
        (at,) = [n for n, line in enumerate(block) if line.strip().startswith(f'"{entry[:30]}')]
        assert block[at - 1].strip().startswith("#"), f"filterwarnings entry {entry!r} has no comment giving its reason"
        action, _, rest = entry.partition(":")
        message = rest.split(":", 1)[0]
        assert action != "ignore" or message, f"{entry!r} ignores a whole category: narrow it by its message"
