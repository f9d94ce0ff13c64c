"""The playbook's commands, in order, as data: what docs/traceability.md is built from.

A command is one shell command or query of a ```bash block (a multi-line ``psql -c "..."``, a ``for`` loop
or a here-document is one command); the comment lines just above it are its purpose. A check claims the
commands it implements with ``@pytest.mark.playbook("nslookup scenescout.app")``: the claim is matched,
whitespace-insensitively, as a part of the command's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PLAYBOOK_FILE = Path(__file__).resolve().parents[2] / "docs" / "playbook.md"
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Command:
    number: int  # 1-based, in playbook order
    section: str  # "Incident Response Process / 1. Initial Response (First 5 Minutes) / Acknowledge and Assess"
    purpose: str  # the comment above it ("Database connectivity")
    text: str  # the command as written, lines joined with newlines
    line: int  # its first line in docs/playbook.md

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0].strip()

    def matches(self, claim: str) -> bool:
        return bool(claim.strip()) and normalise(claim) in normalise(self.text)


def normalise(text: str) -> str:
    return " ".join(text.split())


@cache
def playbook_text() -> str:
    """docs/playbook.md: the playbook this suite implements, kept with the code."""
    return PLAYBOOK_FILE.read_text(encoding="utf-8")


def commands(text: str | None = None) -> list[Command]:
    """Every command of the playbook's ```bash blocks, in order."""
    text = playbook_text() if text is None else text
    found: list[Command] = []
    headings: list[tuple[int, str]] = []
    in_block = False
    purpose: list[str] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(raw.strip())
        if fence and not current:
            in_block = not in_block
            purpose = []
            continue
        if not in_block:
            heading = re.match(r"^(#{2,6})\s+(.*)$", raw)
            if heading:
                level = len(heading.group(1))
                headings = [h for h in headings if h[0] < level] + [(level, heading.group(2).strip())]
            continue
        line = raw.rstrip()
        if not current:
            stripped = line.strip()
            if not stripped:
                purpose = []
                continue
            if stripped.startswith("#"):
                purpose.append(stripped.lstrip("#").strip())
                continue
            start = number
        current.append(line)
        if _complete(current):
            section = " / ".join(h[1] for h in headings)
            found.append(Command(len(found) + 1, section, " ".join(purpose), "\n".join(current), start))
            current, purpose = [], []
    return found


def _complete(lines: list[str]) -> bool:
    """Whether the lines gathered so far make a whole command (quotes closed, loop done, heredoc ended)."""
    text = "\n".join(lines)
    last = lines[-1].strip()
    if last.endswith("\\") or last.endswith("|"):
        return False
    heredoc = re.search(r"<<\s*'?(\w+)'?", lines[0])
    if heredoc:
        return len(lines) > 1 and last == heredoc.group(1)
    if re.match(r"^(for|while)\b", lines[0].strip()):
        return bool(re.search(r"\bdone\b", text))
    return text.count('"') % 2 == 0 and text.count("$$") % 2 == 0
