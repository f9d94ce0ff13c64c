"""From what each check reported to the run's verdict: findings, the playbook's aggregate rules, severity."""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from scenescout_ir.core.conditions import CONDITIONS, UNCLASSIFIED, Severity

PASSED, FAILED, COULD_NOT_RUN, BROKEN = "passed", "failed", "could_not_run", "broken"
INTERRUPTED = "INTERRUPTED"  # the label of a run stopped by a signal before it finished: never OK
# The label of a run without findings in which a whole component could not be checked (the suite's own
# credentials or configuration): what the terminal says, and what verdict.json, the kept run's name (with a
# hyphen: runs/<start>-NOT-CHECKED), the incident log, Allure, --watch and the post-mortem say. Never OK.
NOT_CHECKED = "NOT CHECKED"
NOT_APPLICABLE = "not_applicable"  # skipped on purpose: nothing configured to check (no TLS on plain HTTP...)
_NOT_RECORDED = "not recorded"  # what an older verdict.json does not say
OUTCOMES = (PASSED, FAILED, COULD_NOT_RUN, BROKEN, NOT_APPLICABLE)
# The exit code of a run without findings in which a whole component could not be checked because of the
# suite's own credentials or configuration (pytest uses 0-5): a CI gate treats it as failed.
EXIT_NOT_CHECKED = 6


@dataclass(frozen=True)
class CheckRecord:
    """One check's outcome, as a worker reports it to the controlling process (plain data)."""

    nodeid: str
    check: str
    outcome: str  # passed | failed | could_not_run | broken | not_applicable
    condition: str | None = None  # conditions-table key (the marker's, or the Finding's)
    summary: str = ""
    duration_s: float = 0.0
    evidence: list[dict[str, Any]] = field(default_factory=list)
    blind: str = ""  # the component this check could not see at all (the suite's credentials or config)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckRecord:
        return cls(**data)


@dataclass(frozen=True)
class FindingRecord:
    check: str
    component: str
    condition: str
    severity: Severity
    summary: str
    next_step: str
    section: str
    condition_key: str
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        """The verdict block's line: the summary shortened to a line or two (the full text stays in to_dict)."""
        from scenescout_ir.core.summary import summarise

        return f"  {self.severity.name} {self.component}: {self.condition} - {summarise(self.summary)} ({self.check})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.name
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FindingRecord:
        """A kept finding (its severity by name); a text an older file lacks is empty."""
        texts = {f.name: str(data.get(f.name, "")) for f in fields(cls) if f.name not in ("severity", "evidence")}
        return cls(**texts, severity=Severity[str(data["severity"])],  # type: ignore[arg-type]
                   evidence=list(data.get("evidence", [])))


@dataclass(frozen=True)
class Verdict:
    target: str
    base_url: str
    started_at: str
    finished_at: str
    duration_s: float
    severity: Severity | None
    findings: list[FindingRecord]
    counts: dict[str, int]
    could_not_run: list[dict[str, str]]
    broken: list[dict[str, str]]
    not_applicable: list[dict[str, str]] = field(default_factory=list)
    footprint: dict[str, int] = field(default_factory=dict)  # what the run cost the target
    interrupted: str | None = None  # what stopped the run before it finished (SIGINT, SIGTERM): no verdict
    planned: int = 0  # the checks the run was to do (0: not known, as in the controller of -n)
    blind: list[dict[str, Any]] = field(default_factory=list)  # components not checked at all: never a silent OK
    probable_causes: list[dict[str, Any]] = field(default_factory=list)  # most probable first (causes.py)
    changes: list[dict[str, Any]] = field(default_factory=list)  # since the last healthy run (fingerprint.py)
    changes_since: str | None = None  # when that healthy run was
    fingerprint: dict[str, Any] = field(default_factory=dict)  # this run's, kept with it
    warnings: list[str] = field(default_factory=list)  # the suite's own safety bounds not in force (warnings_of)
    waived: list[dict[str, Any]] = field(default_factory=list)  # findings under a waiver (waivers.py): not counted
    flaky: list[dict[str, Any]] = field(default_factory=list)  # checks that passed only on a retry (retries.py)
    context: list[str] = field(default_factory=list)  # what the provider says (its status page): never a finding

    @property
    def label(self) -> str:
        if self.interrupted:
            return INTERRUPTED
        if self.severity:
            return self.severity.name  # a finding outranks a blind component, which stays listed in "blind"
        return NOT_CHECKED if self.blind else "OK"

    @property
    def response(self) -> str:
        if self.interrupted and self.severity is None:
            return "unknown: the run was interrupted, run it again"
        if self.blind and self.severity is None:
            return "unknown: fix the suite's access to " + ", ".join(sorted({b["component"] for b in self.blind}))
        return self.severity.response if self.severity else "none"

    @property
    def short_headline(self) -> str:
        """The verdict in a few words, for a title, a log line or a message: ``SEV2 - High - respond within 1
        hour``, ``OK``, ``NOT CHECKED - database``, or the interrupted run's line (never read as OK)."""
        if self.interrupted:
            return self.headline.removeprefix("VERDICT: ")
        if self.blind and self.severity is None:
            return f"{NOT_CHECKED} - " + ", ".join(str(b["component"]) for b in self.blind)
        return self.severity.headline if self.severity else "OK"

    @property
    def headline(self) -> str:
        if self.interrupted:
            return interrupted_headline(self.interrupted, self.counts["total"], self.planned, self.severity)
        line = f"VERDICT: {self.severity.headline if self.severity else 'OK'}"
        if self.blind and not self.severity:
            line = f"VERDICT: {NOT_CHECKED} - " + ", ".join(sorted({b["component"] for b in self.blind})) + (
                " (the suite's own credentials or configuration); no incident found elsewhere")
        line += gate_note(self)
        missing = self.counts[COULD_NOT_RUN] + self.counts[BROKEN]
        cut = sum(1 for c in self.could_not_run if c["reason"].startswith("run budget of "))
        if missing:
            line += f" (incomplete: {missing} of {self.counts['total']} checks could not run"
            line += f"; {cut} cut short: the run's time budget was spent)" if cut else ")"
        return line

    def lines(self) -> list[str]:
        from scenescout_ir.core.summary import CAUSE, summarise

        out = [self.headline]
        out += [f"{b['component'].upper()} NOT CHECKED: {b['reason']}" for b in self.blind]
        out += [f"WARNING: {w}" for w in self.warnings]
        out += [f"Context: {line}" for line in self.context]
        for i, cause in enumerate(self.probable_causes):
            explains = f" (explains {len(cause['symptoms'])} other findings)" if cause["symptoms"] else ""
            head = "Probable cause" if i == 0 else "Independent cause"
            out.append(f"{head}: {cause['component']} - {cause['condition']}, {cause['severity']}: "
                       f"{summarise(cause['finding'], CAUSE)}{explains}")
        if self.changes:
            out.append(f"Changed since the last healthy run ({self.changes_since}):")
            out += [f"  - {c['text']}" for c in self.changes[:5]]
            if len(self.changes) > 5:
                out.append(f"  ... {len(self.changes) - 5} more in verdict.json (changes)")
        out += [f.line() for f in self.findings]
        if self.findings:
            out.append("next steps (from the playbook):")
            seen: set[str] = set()
            for f in self.findings:
                if f.condition_key not in seen:
                    seen.add(f.condition_key)
                    out.append(f"  - {f.condition}: {f.next_step}")
        out += gate_lines(self)
        if self.could_not_run:
            out.append(f"could not run ({len(self.could_not_run)}; not counted as incidents):")
            by_reason: dict[str, list[str]] = defaultdict(list)
            loud = {check: f"see {b['component'].upper()} NOT CHECKED above"
                    for b in self.blind for check in b.get("checks", [b["check"]])}
            for c in self.could_not_run:
                by_reason[loud.get(c["check"], c["reason"])].append(c["check"])
            out += [f"  - {', '.join(checks)}: {reason}" for reason, checks in by_reason.items()]
        if self.not_applicable:  # one reason once (database = false makes every database check not applicable)
            applicable: dict[str, list[str]] = defaultdict(list)
            for c in self.not_applicable:
                applicable[c["reason"]].append(c["check"])
            out.append(f"not applicable ({len(self.not_applicable)}): "
                       + "; ".join(f"{', '.join(checks)}: {reason}" for reason, checks in applicable.items()))
        if self.broken:
            out.append(f"broken checks ({len(self.broken)}; a bug in the suite, not an incident):")
            out += [f"  - {c['check']}: {c['reason']}" for c in self.broken]
        n = self.counts
        out.append(
            f"{n['passed']} passed, {n['failed']} found a problem, {n['could_not_run']} could not run"
            + (f", {n['broken']} broken" if n["broken"] else "")
            + (f", {n['not_applicable']} not applicable" if n["not_applicable"] else "") + f"; {self.duration_s:.1f} s"
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "base_url": self.base_url,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 3),
            "severity": self.label,
            "response": self.response,
            "findings": [f.to_dict() for f in self.findings],
            "counts": self.counts,
            "could_not_run": self.could_not_run,
            "broken": self.broken,
            "not_applicable": self.not_applicable,
            "footprint": self.footprint,
            "interrupted": self.interrupted,  # null, or what stopped the run ("severity" is then INTERRUPTED)
            "worst_so_far": self.severity.name if self.interrupted and self.severity else None,
            "planned": self.planned,
            "blind": self.blind,
            "probable_causes": self.probable_causes,
            "changes": self.changes,
            "changes_since": self.changes_since,
            "fingerprint": self.fingerprint,
            "warnings": self.warnings,
            "waived": self.waived,
            "flaky": self.flaky,
            "context": self.context,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """The Verdict a verdict.json holds: ``Verdict.from_dict(d).to_dict() == d`` for what a run wrote. Only
        ``severity`` is required: a field an older (or hand-written) file lacks takes its default; a file that is
        not a verdict raises KeyError, TypeError or ValueError (see :func:`read`)."""
        label = str(data["severity"])
        worst = data.get("worst_so_far") if data.get("interrupted") else label
        counts = {k: 0 for k in (*OUTCOMES, "skipped", "total")} | {str(k): int(v) for k, v in
                                                                    dict(data.get("counts") or {}).items()}
        verdict = cls(
            target=str(data.get("target", "?")), base_url=str(data.get("base_url", "")),
            started_at=str(data.get("started_at", "")), finished_at=str(data.get("finished_at", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            severity=Severity[str(worst)] if str(worst) in Severity.__members__ else None,
            findings=[FindingRecord.from_dict(f) for f in data.get("findings", [])],
            counts=counts,
            could_not_run=list(data.get("could_not_run", [])), broken=list(data.get("broken", [])),
            not_applicable=list(data.get("not_applicable", [])), footprint=dict(data.get("footprint") or {}),
            interrupted=data.get("interrupted") or (_NOT_RECORDED if label == INTERRUPTED else None),
            planned=int(data.get("planned") or 0),
            blind=list(data.get("blind") or ([{"component": _NOT_RECORDED, "check": "", "reason": _NOT_RECORDED,
                                                "checks": []}] if label == NOT_CHECKED else [])),
            probable_causes=list(data.get("probable_causes", [])),
            changes=list(data.get("changes", [])), changes_since=data.get("changes_since"),
            fingerprint=dict(data.get("fingerprint") or {}), warnings=list(data.get("warnings", [])),
            waived=list(data.get("waived", [])), flaky=list(data.get("flaky", [])),
            context=list(data.get("context", [])),
        )
        if verdict.label == "OK" != label:  # a label the fields do not bear out: never read as OK what was not
            raise ValueError(f"verdict.json says {label} but records {verdict.label}")
        return verdict

    def write(self, path: Path) -> None:
        """Atomically, so a reader never sees half a verdict."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".verdict-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self.to_dict(), fh, indent=2)
                fh.write("\n")
            os.replace(tmp, path)
        except BaseException:  # a second Ctrl-C while writing: the old file stays whole, no stray temp file
            Path(tmp).unlink(missing_ok=True)
            raise


def read(path: Path) -> Verdict | None:
    """The verdict kept in ``path`` (a verdict.json), or None when there is none or it is not one (a half-copied
    or hand-edited file is not a verdict; its reader says so in its own words)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Verdict.from_dict(data) if isinstance(data, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def gate_note(verdict: Verdict) -> str:
    """`` (1 check FLAKY, 2 findings WAIVED)`` after the headline: never a silent OK."""
    parts = [f"{len(verdict.flaky)} check{'s' if len(verdict.flaky) != 1 else ''} FLAKY"] if verdict.flaky else []
    if verdict.waived:
        parts.append(f"{len(verdict.waived)} finding{'s' if len(verdict.waived) != 1 else ''} WAIVED")
    return f" ({', '.join(parts)})" if parts else ""


def gate_lines(verdict: Verdict) -> list[str]:
    out = []
    if verdict.flaky:
        out.append(f"FLAKY ({len(verdict.flaky)}; failed, then passed on a retry: see each attempt in verdict.json):")
        out += [f"  FLAKY {f['check']}: {f['summary']}" for f in verdict.flaky]
    if verdict.waived:
        out.append(f"WAIVED ({len(verdict.waived)}; accepted until their expiry, not failing the gate):")
        out += [f"  WAIVED {w['severity']} {w['check']} until {w['expires']} ({w['reason']}): {w['summary']}"
                for w in verdict.waived]
    return out


def interrupted_headline(by: str, done: int, planned: int, severity: Severity | None) -> str:
    """``VERDICT: INTERRUPTED - stopped by SIGTERM after 3 of 17 checks: no verdict; ...``"""
    of = f" of {planned}" if planned >= done and planned else ""
    line = f"VERDICT: {INTERRUPTED} - stopped by {by} after {done}{of} checks: no verdict"
    if severity is not None:
        return line + f"; found before it stopped: {severity.headline}"
    return line + "; nothing found before it stopped, but not everything was checked"


def findings_of(records: list[CheckRecord]) -> list[FindingRecord]:
    """Each failed check's finding, plus the aggregate ones the playbook implies.

    A group (the user-facing endpoints, the ingestion sources) whose every checked member failed escalates
    to its group condition: every endpoint down is a complete outage, every source stale a major
    ingestion failure.
    """
    findings = [_finding(r) for r in records if r.outcome == FAILED]  # one without a condition too
    members: dict[str, list[CheckRecord]] = defaultdict(list)
    for r in records:
        cond = CONDITIONS.get(r.condition or "")
        if cond and cond.group and r.outcome in (PASSED, FAILED):
            members[cond.group].append(r)
    for group, checked in members.items():
        if all(r.outcome == FAILED for r in checked):
            lead = CONDITIONS[checked[0].condition or ""]
            escalated = CONDITIONS[lead.escalates_to or ""]
            names = ", ".join(r.check for r in checked)
            findings.append(FindingRecord(
                check=f"all of {group}", component=escalated.component, condition=escalated.name,
                severity=escalated.severity,
                summary=f"all {len(checked)} checked {group.replace('_', '-')} checks failed ({names})",
                next_step=escalated.next_step, section=escalated.section, condition_key=escalated.key,
            ))
    return sorted(findings, key=lambda f: (f.severity, f.component, f.check))


def _finding(record: CheckRecord) -> FindingRecord:
    """A failure is a finding whatever its condition: none or an unknown key is the unclassified one."""
    cond = CONDITIONS.get(record.condition or "") or CONDITIONS[UNCLASSIFIED]
    summary = record.summary
    if record.condition and record.condition not in CONDITIONS:
        summary += f" (the check named an unknown condition {record.condition!r})"
    return FindingRecord(
        check=record.check, component=cond.component, condition=cond.name, severity=cond.severity,
        summary=summary, next_step=cond.next_step, section=cond.section, condition_key=cond.key,
        evidence=record.evidence,
    )


def warnings_of(records: list[CheckRecord]) -> list[str]:
    """What the probes noted about the run itself (evidence of kind "warning": the suite's statement bounds not in
    force on its database connection), once each, whichever check (or xdist worker) carried it."""
    return list(dict.fromkeys(str(e.get("text", "")) for r in records for e in r.evidence
                              if e.get("kind") == "warning"))


def _blind(records: list[CheckRecord]) -> list[dict[str, Any]]:
    """One entry per component not checked: the reason of the check that kept evidence (the connection
    attempt), and every check that could not look because of it."""
    by_component: dict[str, list[CheckRecord]] = defaultdict(list)
    for r in records:
        if r.blind:
            by_component[r.blind].append(r)
    out = []
    for component, group in by_component.items():
        lead = next((r for r in group if r.evidence), group[0])
        out.append({"component": component, "check": lead.check, "reason": lead.summary, "evidence": lead.evidence,
                    "checks": [r.check for r in group]})
    return out


def assemble(
    records: list[CheckRecord], *, target: str, base_url: str, started_at: str, finished_at: str,
    duration_s: float, footprint: dict[str, int] | None = None, interrupted: str | None = None, planned: int = 0,
    dependencies: dict[str, tuple[str, ...]] | None = None,
) -> Verdict:
    from scenescout_ir.judge.causes import probable_causes, weigh_evidence
    from scenescout_ir.judge.provider import context_of, with_context

    findings = weigh_evidence(findings_of(records), records)  # evidence the run's other evidence contradicts
    causes = probable_causes(findings, dependencies, passed=[r.check for r in records if r.outcome == PASSED])
    context = context_of(records)
    counts = {k: sum(1 for r in records if r.outcome == k) for k in OUTCOMES}
    counts["skipped"] = counts[COULD_NOT_RUN] + counts[NOT_APPLICABLE]
    counts["total"] = len(records)
    return Verdict(
        target=target, base_url=base_url, started_at=started_at, finished_at=finished_at,
        duration_s=duration_s,
        severity=min((f.severity for f in findings), default=None),
        findings=findings, counts=counts,
        could_not_run=[{"check": r.check, "reason": r.summary} for r in records if r.outcome == COULD_NOT_RUN],
        broken=[{"check": r.check, "reason": r.summary} for r in records if r.outcome == BROKEN],
        not_applicable=[{"check": r.check, "reason": r.summary} for r in records if r.outcome == NOT_APPLICABLE],
        footprint=dict(footprint or {}), interrupted=interrupted, planned=planned,
        blind=_blind(records), warnings=warnings_of(records),
        probable_causes=[with_context(c.to_dict(), context) for c in causes], context=context,
    )
