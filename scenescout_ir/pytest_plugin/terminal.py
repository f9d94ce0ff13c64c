"""The verdict block at the end of the terminal output: its first line coloured by severity, where it was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenescout_ir.judge.verdict import Verdict


def show_verdict(tr: Any, verdict: Verdict, verdict_file: Path, write_error: str | None) -> None:
    severity = verdict.severity
    markup = {"green": True} if severity is None and not verdict.blind else {"red": True} if (
        severity is None or severity <= 2) else {"yellow": True}
    if verdict.interrupted and severity is None:
        markup = {"yellow": True}
    tr.section("verdict", sep="=", bold=True, **markup)
    lines = verdict.lines()
    tr.write_line(lines[0], bold=True, **markup)
    for line in lines[1:]:
        tr.write_line(line)
    tr.write_line(write_error or f"verdict written to {relative(verdict_file)}")


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
