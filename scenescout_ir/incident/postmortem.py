"""The post-incident review draft: the playbook's "Post-Incident Review (Within 24 hours)", pre-filled.

Built from the incident log and the runs it links to (their verdict.json, kept under reports/runs/):

- Timeline analysis: detection, response, resolution and communication times, and the durations between
  them, against the response time the worst severity asks for;
- the severity history (every run while the incident was open, and the failing runs before it was
  declared, from the kept runs), the findings with the playbook's next step, links to each run's report;
- Root Cause Analysis and Action Items with what the log already says, and the rest left for the review.

Times are UTC. What cannot be derived is said to be missing, never invented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scenescout_ir.core.conditions import Severity
from scenescout_ir.incident.log import Incident, RunEntry, duration, stamp
from scenescout_ir.judge.verdict import FindingRecord, Verdict
from scenescout_ir.reporting import report

# How long each severity gives to respond (the playbook's "Response:"); SEV1 is "Immediate": the
# Initial Response's first 5 minutes. SEV4's "next business day" is taken as 24 h.
RESPONSE_TARGET = {
    "SEV1": timedelta(minutes=5), "SEV2": timedelta(minutes=30), "SEV3": timedelta(hours=2),
    "SEV4": timedelta(hours=24),
}
LOOKBACK = timedelta(hours=24)  # how far before the start kept runs are searched for the first failure


@dataclass
class Run:
    """One run, from its kept verdict.json where it still exists, else from its log lines."""

    at: datetime  # when it started (or, without its verdict, when its line was written)
    severity: str
    headline: str
    report: str | None  # link relative to the post-mortem file's dir
    rendered: bool
    verdict: Verdict | None = None  # None: not kept (or no longer)
    lines: list[str] = field(default_factory=list)
    before_start: bool = False

    @property
    def failing(self) -> bool:
        return self.severity.startswith("SEV")  # not OK, "?" or INTERRUPTED (stopped before a verdict)

    def findings(self) -> list[FindingRecord]:
        return list(self.verdict.findings) if self.verdict else []


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _run_from_entry(entry: RunEntry, base: Path) -> Run:
    run_dir = (base / entry.report).parent if entry.report else None
    verdict = report.read_verdict(run_dir) if run_dir else None
    at = (_parse_time(verdict.started_at) if verdict else None) or entry.at
    rendered = bool(run_dir and (run_dir / report.REPORT).is_file())
    return Run(at, verdict.label if verdict else entry.severity, entry.headline, entry.report, rendered, verdict,
               entry.lines)


def _runs_before(incident: Incident, reports_dir: Path | None, start: datetime, target: str | None) -> list[Run]:
    """The failing streak that led up to the start: kept runs just before it, back to the last healthy one."""
    if reports_dir is None:
        return []
    streak: list[Run] = []
    for run_dir in reversed(report.runs(reports_dir)):
        verdict = report.read_verdict(run_dir)
        at = _parse_time(verdict.started_at) if verdict else None
        if verdict is None or at is None or at >= start:
            continue
        if start - at > LOOKBACK or (target and verdict.target != target):
            break
        run = Run(at, verdict.label, "VERDICT: " + verdict.label, None,
                  (run_dir / report.REPORT).is_file(), verdict, before_start=True)
        run.report = str(run_dir / report.REPORT)
        streak.append(run)
        if run.severity == "OK":  # the last healthy run (NOT CHECKED or INTERRUPTED is not one)
            break
    return list(reversed(streak))


@dataclass
class _Facts:
    """What every section of the draft reads: the incident, its runs (and the failing streak before it), the
    milestones derived from them."""

    incident: Incident
    start: datetime | None
    resolved_at: datetime | None
    runs: list[Run]  # while the incident was open
    before: list[Run]  # the streak before the start
    failing: list[Run]
    worst: str | None
    first_failing: datetime | None
    detected: datetime | None
    first_mitigation: datetime | None
    verified_at: datetime | None

    @property
    def everything(self) -> list[Run]:
        return self.before + self.runs


def draft(incident: Incident, *, reports_dir: Path | None = None, output: Path | None = None) -> str:
    """The Markdown draft of the review (the caller redacts and writes it)."""
    facts = _facts(incident, reports_dir, output)
    seen = _findings_seen(facts.everything)
    lines = _overview(facts) + _timeline(facts) + _severity_history(facts) + _findings(seen)
    lines += _root_cause_and_actions(facts, seen) + _incident_log(incident)
    return "\n".join(lines)


def _facts(incident: Incident, reports_dir: Path | None, output: Path | None) -> _Facts:
    out_dir = (output or incident.path).parent
    start = incident.started_at()
    runs = [_run_from_entry(e, incident.path.parent) for e in incident.runs()]
    for run in runs:
        if run.report:
            run.report = _link(incident.path.parent / run.report, out_dir)
    target = next((r.verdict.target for r in runs if r.verdict), None)
    before = _runs_before(incident, reports_dir, start, target) if start else []
    for run in before:
        run.report = _link(Path(run.report or ""), out_dir)
    failing = [r for r in before + runs if r.failing]
    mitigations = incident.of_kind("mitigation")
    first_failing = failing[0].at if failing else None
    last_failure = failing[-1] if failing else None
    verified = next((r for r in runs if r.severity == "OK" and last_failure and r.at > last_failure.at), None)
    return _Facts(
        incident, start, incident.resolved.at if incident.resolved else None, runs, before, failing,
        worst=min((r.severity for r in failing), default=None, key=lambda s: Severity[s].value),
        first_failing=first_failing,
        detected=min((t for t in (first_failing, start) if t is not None), default=None),
        first_mitigation=mitigations[0].at if mitigations else None,
        verified_at=verified.at if verified else None,
    )


def _overview(f: _Facts) -> list[str]:
    return [
        f"# Post-incident review: {f.incident.description}", "",
        f"Draft generated {stamp(datetime.now().astimezone())} from `{f.incident.path.name}` and the runs it links "
        "to. Times are UTC. Fill in the parts marked _to do_ in the review (within 24 hours).", "",
        "| | |", "|---|---|",
        f"| Status | {'resolved' if f.resolved_at else '**still open**'} |",
        f"| Worst severity seen | {_sev(f.worst)} |",
        f"| Started (declared) | {_t(f.start)} |",
        f"| Resolved | {_t(f.resolved_at)} |",
        f"| Duration | {_d(f.start, f.resolved_at)} |",
        f"| Runs of the suite | {len(f.runs)} while open"
        + (f", {len(f.before)} before it was declared" if f.before else "") + " |",
        "",
    ]


def _timeline(f: _Facts) -> list[str]:
    """1. Timeline analysis: the milestones, the durations between them, the communication timeline."""
    notifications = f.incident.of_kind("notified")
    lines = ["## 1. Timeline analysis", ""]
    lines += ["| Milestone | Time (UTC) | Since detection | Since start |", "|---|---|---|---|"]
    milestones = [
        ("First run of the suite that found a problem", f.first_failing),
        ("Incident declared (INCIDENT START)", f.start),
        ("First notification sent", notifications[0].at if notifications else None),
        ("Response: first mitigation attempted", f.first_mitigation),
        ("Fix verified: first all-OK run after the last failing one", f.verified_at),
        ("Resolved (INCIDENT RESOLVED)", f.resolved_at),
    ]
    for name, at in sorted(milestones, key=lambda m: m[1] or datetime.max.replace(tzinfo=UTC)):
        lines.append(f"| {name} | {_t(at)} | {_d(f.detected, at)} | {_d(f.start, at)} |")
    lines.append("")
    return lines + _durations(f) + _communication(f.incident, notifications)


def _durations(f: _Facts) -> list[str]:
    lines = ["Durations:", ""]
    if f.first_failing is not None and f.start is not None and f.first_failing < f.start:
        lines.append(f"- **Detection time:** the suite saw the problem {_d(f.first_failing, f.start)} before the "
                     "incident was declared (first failing run to INCIDENT START)")
    elif f.start is not None:
        lines.append("- **Detection time:** declared before any kept run of the suite saw a problem (by a person "
                     "or another alert)" + (f"; the first failing run came {_d(f.start, f.first_failing)} later"
                                            if f.first_failing else ""))
    lines.append(f"- **Response time** (start to first mitigation): {_d(f.start, f.first_mitigation)}")
    if f.worst:
        target_delta = RESPONSE_TARGET[f.worst]
        took = f.first_mitigation - f.detected if f.first_mitigation and f.detected else None
        verdict_word = ("not measurable: no mitigation was logged" if took is None else
                        "within the target" if took <= target_delta else "**over the target**")
        lines.append(f"  - {f.worst} asks for a response within {Severity[f.worst].response.lower()}: "
                     f"detection to first mitigation took {_dd(took)}, {verdict_word}")
    lines.append(f"- **Resolution time** (start to resolved): {_d(f.start, f.resolved_at)}; "
                 f"detection to resolved: {_d(f.detected, f.resolved_at)}")
    lines.append(f"- **Time to verify the fix** (first mitigation to the first all-OK run): "
                 f"{_d(f.first_mitigation, f.verified_at)}")
    lines.append("")
    return lines


def _communication(incident: Incident, notifications: list[Any]) -> list[str]:
    lines = ["Communication timeline:", ""]
    comm = [(e.at, f"Notification sent: {e.text}") for e in notifications]
    comm += [(e.at, f"Mitigation attempted: {e.text}") for e in incident.of_kind("mitigation")]
    comm += [(e.at, e.text) for e in incident.of_kind("note")]
    start = incident.started_at()
    if start:
        comm.append((start, f"INCIDENT START - {incident.description}"))
    if incident.resolved:
        comm.append((incident.resolved.at, "INCIDENT RESOLVED"))
    for at, text in sorted(comm, key=lambda x: x[0]):
        lines.append(f"- {_t(at)} {text}")
    if not notifications:
        lines.append("- _No notification was logged (set SCENESCOUT_SLACK_WEBHOOK to have SEV1/SEV2 runs "
                     "post one); add the updates sent by other means._")
    lines.append("")
    return lines


def _severity_history(f: _Facts) -> list[str]:
    """Every run, before the start and while open: its verdict, counts, findings and report."""
    lines = ["## Severity history", "", "| Run started (UTC) | Verdict | Checks | Findings | Report |",
             "|---|---|---|---|---|"]
    for run in f.everything:
        counts = run.verdict.counts if run.verdict else {}
        checks = (f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
                  f"{counts.get('could_not_run', 0)} could not run") if counts else "(verdict not kept)"
        found = "; ".join(f"{x.severity.name} {x.condition} ({x.check})" for x in run.findings()) or (
            "; ".join(run.lines) if run.lines else "-")
        link = (f"[report]({run.report})" if run.rendered else f"{run.report} (not rendered: `make report`)") \
            if run.report else "-"
        when = _t(run.at) + (" (before the start)" if run.before_start else "")
        lines.append(f"| {when} | {_sev(run.severity)} | {checks} | {_cell(found)} | {link} |")
    if not f.everything:
        lines.append("| - | no run of the suite was recorded while the incident was open | | | |")
    lines.append("")
    return lines


def _findings_seen(everything: list[Run]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each (condition, check) found: its last finding, the first and last run that saw it, how many did."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for run in everything:
        for f in run.findings():
            key = (f.condition_key, f.check)
            entry = seen.setdefault(key, {"f": f, "first": run.at, "last": run.at, "runs": 0})
            entry["last"], entry["runs"], entry["f"] = run.at, entry["runs"] + 1, f
    return seen


def _findings(seen: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    lines = ["## Findings", ""]
    if not seen:
        lines.append("_No finding was recorded by the suite._")
    for (_, check), entry in sorted(seen.items(), key=lambda kv: (kv[1]["f"].severity, kv[1]["first"])):
        f = entry["f"]
        lines += [
            f"### {f.severity.name} {f.component}: {f.condition} ({check})",
            f"- Seen in {entry['runs']} run(s), first {_t(entry['first'])}, last {_t(entry['last'])}",
            f"- Last observation: {f.summary}",
            f"- Playbook next step ({f.section}): {f.next_step}",
            "",
        ]
    return lines


def _root_cause_and_actions(f: _Facts, seen: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """2. Root cause analysis and 3. Action items: what the resolution block says, the rest left to do."""
    block = f.incident.resolution()
    lines = ["## 2. Root cause analysis", ""]
    lines.append(f"- **Technical root cause:** {block.get('Root Cause') or '_to do_'}")
    lines.append(f"- **Resolution:** {block.get('Resolution') or '_to do (the incident is not resolved)_'}")
    lines.append(f"- **Impact:** {block.get('Impact') or '_to do_'}")
    lines.append("- **Contributing factors:** _to do_")
    hint = ""
    if f.before:
        healthy = [r for r in f.before if not r.failing]
        hint = (f" The suite found the problem {_d(f.first_failing, f.start)} before the incident was declared"
                + (f"; the last healthy run was at {_t(healthy[-1].at)}." if healthy else "."))
    lines.append(f"- **Why it wasn't caught earlier:** _to do_.{hint}")
    lines.append("")
    lines += ["## 3. Action items", ""]
    lines.append(f"- **Immediate fixes:** {block.get('Next Steps') or '_to do_'}")
    lines.append("- **Medium-term improvements:** _to do_")
    lines.append("- **Long-term preventive measures:** _to do_")
    if seen:
        lines.append("- Playbook next steps for the conditions found (to consider):")
        for key in dict.fromkeys(e["f"].condition_key for e in seen.values()):
            finding = next(e["f"] for e in seen.values() if e["f"].condition_key == key)
            lines.append(f"  - {finding.condition}: {finding.next_step}")
    lines.append("")
    return lines


def _incident_log(incident: Incident) -> list[str]:
    return ["## Incident log", "", "```", incident.path.read_text(encoding="utf-8", errors="replace").rstrip(),
            "```", ""]


def _link(path: Path, out_dir: Path) -> str:
    try:
        return os.path.relpath(path, out_dir)
    except ValueError:
        return str(path)


def _t(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def _d(a: datetime | None, b: datetime | None) -> str:
    if a is None or b is None:
        return "-"
    return duration(b - a)


def _dd(delta: timedelta | None) -> str:
    return duration(delta) if delta is not None else "-"


def _sev(label: str | None) -> str:
    if label is not None and label in Severity.__members__:
        return Severity[label].headline
    return label or "none (no failing run)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:600]


def write(incident: Incident, text: str, output: Path | None = None) -> Path:
    path = output or incident.path.with_name(incident.path.stem + "-postmortem.md")
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
