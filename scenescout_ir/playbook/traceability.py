"""Which check implements which playbook command, built from the checks themselves (never by hand).

Each check says which command it replaces with ``@pytest.mark.playbook("nslookup scenescout.app", ...)``;
the commands that are deliberately not checks are listed in :data:`NOT_CHECKS` with the reason and what the
suite does instead. ``python -m scenescout_ir checks`` prints the catalogue; ``python -m scenescout_ir
traceability`` writes docs/traceability.md, and a test fails when that file, the playbook and the checks
disagree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scenescout_ir.core.conditions import CONDITIONS
from scenescout_ir.playbook.commands import Command, commands

ROOT = Path(__file__).resolve().parents[2]
TRACEABILITY_FILE = ROOT / "docs" / "traceability.md"
CHECK_MARKERS = ("emergency", "comprehensive", "performance")

# The playbook's commands that the suite deliberately does not turn into a check: (part of the command, why
# not, and what the suite does instead). A claim here that matches no command fails a test, like a check's.
NOT_CHECKS: tuple[tuple[str, str], ...] = (
    ('echo "$(date): INCIDENT START',
     "writes the incident log, it checks nothing: `python -m scenescout_ir incident start`, and every run "
     "appends its verdict to the open incident"),
    ("ping -c 3 8.8.8.8",
     "ICMP needs raw sockets (root or a capability) and a public resolver proves nothing about the target: "
     "test_dns_resolution and the TCP/TLS layers of Scenario 1 test the way to the target itself"),
    ("SELECT pg_terminate_backend(pid)",
     "a mitigation that ends sessions: the suite is read-only and never acts; the stuck-transaction and "
     "connection findings name the pids to end"),
    ("sync && echo 3 > /proc/sys/vm/drop_caches",
     "a mitigation that changes the host: the suite only observes (test_memory names the memory hogs)"),
    ("pm2 restart all", "a mitigation (restart): the suite only observes"),
    ("UPDATE api_configurations",
     "a mitigation (a write): the suite's session is read-only; test_no_source_left_disabled checks that a "
     "source switched off during the incident is back on"),
    ('find logs/ -name "*.log" -mtime +7 -delete', "a mitigation (deletes files): test_disk_space finds the need"),
    ('find logs/ -name "*.log.*" -mtime +3 -delete', "a mitigation (deletes files): test_disk_space finds the need"),
    ("rm -rf /tmp/scenescout-*", "a mitigation (deletes files): test_disk_space finds the need"),
    ('echo "$(date): Investigation findings',
     "writes the incident log: every run appends its findings to the open incident"),
    ('echo "$(date): Mitigation attempted', "writes the incident log: `python -m scenescout_ir incident note`"),
    ("cat >> incidents/incident-",
     "writes the incident log: `python -m scenescout_ir incident resolve` and `incident postmortem`"),
    ("node scripts/test-api-ingestion.js",
     "runs an ingestion (a write to production): test_upstream_api asks the vendor API the same question, "
     "read-only"),
    ("systemctl restart scenescout", "a mitigation (restart): the suite only observes"),
    ("redis-cli FLUSHALL", "a mitigation (drops a cache): the suite only observes"),
    ("systemctl restart nginx", "a mitigation (restart): the suite only observes"),
    ("./scripts/restore-from-backup.sh", "a recovery action (restores data); test_no_data_loss verifies after it"),
    ("node scripts/backfill-events.js",
     "a recovery action (writes events); test_ingestion_resumed verifies after it"),
)


@dataclass(frozen=True)
class CheckInfo:
    """One check (a test function; its parametrized cases are one check)."""

    nodeid: str  # without the parameters: checks/test_site.py::test_health_endpoint
    name: str
    markers: tuple[str, ...]
    condition: str | None
    claims: tuple[str, ...]
    doc: str = ""
    cases: int = 1

    @property
    def severity(self) -> str:
        cond = CONDITIONS.get(self.condition or "")
        return cond.severity.name if cond else "-"

    @property
    def condition_name(self) -> str:
        cond = CONDITIONS.get(self.condition or "")
        return cond.name if cond else (self.condition or "-")


@dataclass(frozen=True)
class Row:
    command: Command
    checks: list[CheckInfo] = field(default_factory=list)
    reason: str | None = None  # not a check: why, and what instead


def collect(root: Path = ROOT) -> list[CheckInfo]:
    """The checks of checks/ and scenarios/, by collecting them as pytest does (in a child process, so a
    caller's own pytest session is not disturbed)."""
    out = subprocess.run(
        [sys.executable, "-m", "scenescout_ir.pytest_plugin.collect_checks"], cwd=root, capture_output=True, text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"collecting the checks failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    return [CheckInfo(**{**c, "markers": tuple(c["markers"]), "claims": tuple(c["claims"])})
            for c in json.loads(out.stdout)]


def rows(checks: Iterable[CheckInfo], playbook: list[Command] | None = None) -> list[Row]:
    playbook = commands() if playbook is None else playbook
    checks = list(checks)
    result = []
    for command in playbook:
        claimed = [c for c in checks if any(command.matches(claim) for claim in c.claims)]
        reason = next((why for part, why in NOT_CHECKS if command.matches(part)), None)
        result.append(Row(command, claimed, None if claimed else reason))
    return result


def problems(checks: Iterable[CheckInfo], playbook: list[Command] | None = None) -> list[str]:
    """What makes the table untrue: a command nobody accounts for, a claim of a command that does not exist."""
    playbook = commands() if playbook is None else playbook
    checks = list(checks)
    found = [f"playbook line {r.command.line} ({r.command.first_line!r}) has no check and no reason in NOT_CHECKS"
             for r in rows(checks, playbook) if not r.checks and not r.reason]
    for check in checks:
        for claim in check.claims:
            if not any(cmd.matches(claim) for cmd in playbook):
                found.append(f"{check.nodeid} claims playbook command {claim!r}, which the playbook does not have")
    for part, _ in NOT_CHECKS:
        if not any(cmd.matches(part) for cmd in playbook):
            found.append(f"NOT_CHECKS names {part!r}, which the playbook does not have")
    return found


def coverage_line(table: list[Row]) -> str:
    checked = sum(1 for r in table if r.checks)
    return (f"{checked} of {len(table)} playbook commands are checks; the other {len(table) - checked} are "
            "not, each with its reason below.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_traceability(table: list[Row]) -> str:
    out = [
        "# Traceability: the playbook's commands and the checks that implement them",
        "",
        "Generated by `python -m scenescout_ir traceability` (`make docs`) from the checks' "
        "`@pytest.mark.playbook(...)` markers and `NOT_CHECKS` in `scenescout_ir/playbook/traceability.py`; "
        "a test fails when this file, the playbook and the checks disagree. Do not edit by hand.",
        "",
        f"**{coverage_line(table)}**",
        "",
        "| # | playbook (line, section) | command | check(s) | marker | condition (severity) |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        cmd = row.command
        first = _cell(" ".join(cmd.text.split()))
        first = first if len(first) <= 90 else first[:89] + "…"
        where = f"{cmd.line}: {_cell(cmd.section.split(' / ')[-1])}"
        if row.checks:
            checks = "<br>".join(f"`{c.nodeid}`" for c in row.checks)
            marks = "<br>".join(", ".join(c.markers) for c in row.checks)
            conds = "<br>".join(f"{_cell(c.condition_name)} ({c.severity})" for c in row.checks)
        else:
            checks, marks, conds = f"not a check: {_cell(row.reason or '')}", "", ""
        out.append(f"| {cmd.number} | {where} | `{first}` | {checks} | {marks} | {conds} |")
    return "\n".join(out) + "\n"


def render_catalogue(checks: list[CheckInfo], markdown: bool = False) -> str:
    if markdown:
        out = ["| check | markers | playbook | condition | severity |", "|---|---|---|---|---|"]
        for c in checks:
            claims = "<br>".join(f"`{_cell(x)}`" for x in c.claims) or "-"
            out.append(f"| `{c.nodeid}` | {', '.join(c.markers)} | {claims} | {_cell(c.condition_name)} "
                       f"| {c.severity} |")
        return "\n".join(out) + "\n"
    out = []
    for c in checks:
        cases = f" ({c.cases} cases)" if c.cases > 1 else ""
        out.append(f"{c.nodeid}{cases}\n    markers: {', '.join(c.markers)}; condition: {c.condition_name} "
                   f"({c.severity})\n    playbook: {'; '.join(c.claims) or '-'}")
    return "\n".join(out) + "\n"
