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


def draft(incident: Incident, *, reports_dir: Path | None = None, output: Path | None = None) -> str:
    """The Markdown draft of the review (the caller redacts and writes it)."""
    out_dir = (output or incident.path).parent
    start = incident.started_at()
    resolved = incident.resolved
    runs = [_run_from_entry(e, incident.path.parent) for e in incident.runs()]
    for run in runs:
        if run.report:
            run.report = _link(incident.path.parent / run.report, out_dir)
    target = next((r.verdict.target for r in runs if r.verdict), None)
    before = _runs_before(incident, reports_dir, start, target) if start else []
    for run in before:
        run.report = _link(Path(run.report or ""), out_dir)
    everything = before + runs
    failing = [r for r in everything if r.failing]
    worst = min((r.severity for r in failing), default=None, key=lambda s: Severity[s].value)
    mitigations = incident.of_kind("mitigation")
    notifications = incident.of_kind("notified")

    lines = [f"# Post-incident review: {incident.description}", ""]
    lines += [
        f"Draft generated {stamp(datetime.now().astimezone())} from `{incident.path.name}` and the runs it links "
        "to. Times are UTC. Fill in the parts marked _to do_ in the review (within 24 hours).", "",
        "| | |", "|---|---|",
        f"| Status | {'resolved' if resolved else '**still open**'} |",
        f"| Worst severity seen | {_sev(worst)} |",
        f"| Started (declared) | {_t(start)} |",
        f"| Resolved | {_t(resolved.at if resolved else None)} |",
        f"| Duration | {_d(start, resolved.at if resolved else None)} |",
        f"| Runs of the suite | {len(runs)} while open" + (f", {len(before)} before it was declared" if before else "")
        + " |",
        "",
    ]

    # --- timeline analysis ------------------------------------------------------------------------
    first_failing = failing[0].at if failing else None
    detected = min((t for t in (first_failing, start) if t is not None), default=None)
    first_mitigation = mitigations[0].at if mitigations else None
    last_failure = failing[-1] if failing else None
    verified = next((r for r in runs if r.severity == "OK" and last_failure and r.at > last_failure.at), None)
    lines += ["## 1. Timeline analysis", ""]
    lines += ["| Milestone | Time (UTC) | Since detection | Since start |", "|---|---|---|---|"]
    first_notice = notifications[0].at if notifications else None
    milestones = [
        ("First run of the suite that found a problem", first_failing),
        ("Incident declared (INCIDENT START)", start),
        ("First notification sent", first_notice),
        ("Response: first mitigation attempted", first_mitigation),
        ("Fix verified: first all-OK run after the last failing one", verified.at if verified else None),
        ("Resolved (INCIDENT RESOLVED)", resolved.at if resolved else None),
    ]
    for name, at in sorted(milestones, key=lambda m: m[1] or datetime.max.replace(tzinfo=UTC)):
        lines.append(f"| {name} | {_t(at)} | {_d(detected, at)} | {_d(start, at)} |")
    lines.append("")
    lines += ["Durations:", ""]
    if first_failing is not None and start is not None and first_failing < start:
        lines.append(f"- **Detection time:** the suite saw the problem {_d(first_failing, start)} before the "
                     "incident was declared (first failing run to INCIDENT START)")
    elif start is not None:
        lines.append("- **Detection time:** declared before any kept run of the suite saw a problem (by a person "
                     "or another alert)" + (f"; the first failing run came {_d(start, first_failing)} later"
                                            if first_failing else ""))
    lines.append(f"- **Response time** (start to first mitigation): {_d(start, first_mitigation)}")
    if worst:
        target_delta = RESPONSE_TARGET[worst]
        took = first_mitigation - detected if first_mitigation and detected else None
        verdict_word = ("not measurable: no mitigation was logged" if took is None else
                        "within the target" if took <= target_delta else "**over the target**")
        lines.append(f"  - {worst} asks for a response within {Severity[worst].response.lower()}: "
                     f"detection to first mitigation took {_dd(took)}, {verdict_word}")
    lines.append(f"- **Resolution time** (start to resolved): {_d(start, resolved.at if resolved else None)}; "
                 f"detection to resolved: {_d(detected, resolved.at if resolved else None)}")
    lines.append(f"- **Time to verify the fix** (first mitigation to the first all-OK run): "
                 f"{_d(first_mitigation, verified.at if verified else None)}")
    lines.append("")
    lines += ["Communication timeline:", ""]
    comm = [(e.at, f"Notification sent: {e.text}") for e in notifications]
    comm += [(e.at, f"Mitigation attempted: {e.text}") for e in mitigations]
    comm += [(e.at, e.text) for e in incident.of_kind("note")]
    if start:
        comm.append((start, f"INCIDENT START - {incident.description}"))
    if resolved:
        comm.append((resolved.at, "INCIDENT RESOLVED"))
    for at, text in sorted(comm, key=lambda x: x[0]):
        lines.append(f"- {_t(at)} {text}")
    if not notifications:
        lines.append("- _No notification was logged (set SCENESCOUT_SLACK_WEBHOOK to have SEV1/SEV2 runs "
                     "post one); add the updates sent by other means._")
    lines.append("")

    # --- severity history --------------------------------------------------------------------------
    lines += ["## Severity history", "", "| Run started (UTC) | Verdict | Checks | Findings | Report |",
              "|---|---|---|---|---|"]
    for run in everything:
        counts = run.verdict.counts if run.verdict else {}
        checks = (f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
                  f"{counts.get('could_not_run', 0)} could not run") if counts else "(verdict not kept)"
        found = "; ".join(f"{f.severity.name} {f.condition} ({f.check})" for f in run.findings()) or (
            "; ".join(run.lines) if run.lines else "-")
        link = (f"[report]({run.report})" if run.rendered else f"{run.report} (not rendered: `make report`)") \
            if run.report else "-"
        when = _t(run.at) + (" (before the start)" if run.before_start else "")
        lines.append(f"| {when} | {_sev(run.severity)} | {checks} | {_cell(found)} | {link} |")
    if not everything:
        lines.append("| - | no run of the suite was recorded while the incident was open | | | |")
    lines.append("")

    # --- findings ------------------------------------------------------------------------------------
    lines += ["## Findings", ""]
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for run in everything:
        for f in run.findings():
            key = (f.condition_key, f.check)
            entry = seen.setdefault(key, {"f": f, "first": run.at, "last": run.at, "runs": 0})
            entry["last"], entry["runs"], entry["f"] = run.at, entry["runs"] + 1, f
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

    # --- root cause and action items ----------------------------------------------------------------
    block = incident.resolution()
    lines += ["## 2. Root cause analysis", ""]
    lines.append(f"- **Technical root cause:** {block.get('Root Cause') or '_to do_'}")
    lines.append(f"- **Resolution:** {block.get('Resolution') or '_to do (the incident is not resolved)_'}")
    lines.append(f"- **Impact:** {block.get('Impact') or '_to do_'}")
    lines.append("- **Contributing factors:** _to do_")
    hint = ""
    if before:
        healthy = [r for r in before if not r.failing]
        hint = (f" The suite found the problem {_d(first_failing, start)} before the incident was declared"
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
            f = next(e["f"] for e in seen.values() if e["f"].condition_key == key)
            lines.append(f"  - {f.condition}: {f.next_step}")
    lines.append("")

    lines += ["## Incident log", "", "```", incident.path.read_text(encoding="utf-8", errors="replace").rstrip(),
              "```", ""]
    return "\n".join(lines)


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
