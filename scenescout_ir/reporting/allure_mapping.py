"""The Allure report model of a run: what a check and a verdict look like in Allure, apart from pytest's hooks.

- each check labelled from its condition (conditions.py) in one place, not in the tests: epic = the
  playbook phase its marker belongs to, feature = the component, story = the condition's playbook name,
  the Allure severity of the playbook severity (SEV1 blocker ... SEV4 minor), a link to the playbook
  section, a description (the playbook command it replaces, and what to do when it fails);
- the evidence the check gathered, passed or failed, as the attachments a reader opens: HTTP exchanges as
  text, SQL results as CSV tables, log excerpts as HTML with the matching lines marked, host figures,
  browser screenshots and traces;
- a status message that starts with the severity (``SEV2 Database connection problems (database): ...``)
  or ``could not run:`` / ``broken check:``, which categories.json sorts into SEV1..SEV4 and "suite or
  infrastructure problem";
- the run's environment (environment.properties, executor.json) and its verdict as one more result.

The pytest adapter that writes these is pytest_plugin/allure_adapter.py (this module never imports pytest);
what follows the verdict is pytest_plugin/after_run.py.
"""

from __future__ import annotations

import getpass
import html
import io
import json
import os
import platform
import re
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from allure_commons.model2 import Label, Link, Status, StatusDetails, TestResult
from allure_commons.types import LabelType
from allure_commons.utils import md5, now, uuid4

from scenescout_ir.core.conditions import CONDITIONS, PLAYBOOK, Condition, Severity
from scenescout_ir.judge.verdict import BROKEN, COULD_NOT_RUN, FAILED, NOT_APPLICABLE, PASSED, CheckRecord, Verdict
from scenescout_ir.reporting import report

PLAYBOOK_URL_ENV = "SCENESCOUT_PLAYBOOK_URL"

# The playbook phase a check belongs to, from its marker (the first that applies).
PHASES = (
    ("emergency", "1-2. Initial Response and Investigation"),
    ("comprehensive", "5. Resolution and Recovery: Verify Fix"),
    ("performance", "5. Resolution and Recovery: Performance Validation"),
)
ALLURE_SEVERITY = {Severity.SEV1: "blocker", Severity.SEV2: "critical", Severity.SEV3: "normal",
                   Severity.SEV4: "minor"}
SUITE_PROBLEM = "Suite or infrastructure problem (not a product finding)"
COULD_NOT_RUN_PREFIX = "could not run: "
BROKEN_PREFIX = "broken check: "
NOT_APPLICABLE_PREFIX = "not applicable: "
VERDICT_EPIC = "Run verdict"
# a check that could not look is skipped, not broken: allure-pytest calls every non-assertion error broken
STATUS = {PASSED: Status.PASSED, FAILED: Status.FAILED, COULD_NOT_RUN: Status.SKIPPED,
           NOT_APPLICABLE: Status.SKIPPED, BROKEN: Status.BROKEN}



# --- what a check is, for the report --------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInfo:
    nodeid: str
    name: str
    phase: str
    condition: str | None  # the condition marker's key
    doc: str  # the playbook command it replaces


def playbook_url(root: Path) -> str | None:
    """Where the playbook can be read: ``$SCENESCOUT_PLAYBOOK_URL``, else the copy found near the project."""
    configured = os.environ.get(PLAYBOOK_URL_ENV, "").strip()
    if configured:
        return configured
    for base in (root, *root.parents):
        candidate = base / PLAYBOOK
        if candidate.is_file():
            return candidate.as_uri()
    return None


def section_anchor(section: str) -> str:
    """The Markdown heading anchor of a section's last part: ``Scenario 2: Database ...`` -> ``scenario-2-...``."""
    heading = section.split(" / ")[-1].strip().lower()
    return re.sub(r"[^a-z0-9 -]", "", heading).replace(" ", "-")


def labels_for(info: CheckInfo, cond: Condition | None) -> list[tuple[str, str]]:
    labels = [(LabelType.EPIC, info.phase)]
    if cond is not None:
        labels += [
            (LabelType.FEATURE, cond.component),
            (LabelType.STORY, cond.name),
            (LabelType.SEVERITY, ALLURE_SEVERITY[cond.severity]),
            (LabelType.TAG, cond.severity.name),
            (LabelType.TAG, cond.key),
        ]
    return labels


def description_html(info: CheckInfo, cond: Condition | None, marker_cond: Condition | None = None) -> str:
    e = html.escape
    parts = [
        "<p><b>What it checks</b> (the playbook command it replaces):</p>",
        f"<pre>{e(info.doc or info.name)}</pre>",
    ]
    if cond is not None:
        if marker_cond is not None and marker_cond.key != cond.key:
            parts.append(f"<p>It usually indicates <i>{e(marker_cond.name)}</i>; this run it found:</p>")
        parts += [
            f"<p><b>When it fails:</b> {e(cond.name)} - {e(cond.severity.headline)} "
            f"(component: {e(cond.component)})</p>",
            f"<p><b>What to do:</b> {e(cond.next_step)}</p>",
            f"<p><b>Playbook section:</b> {e(cond.section)}</p>",
        ]
    return "\n".join(parts)


def status_message(record: CheckRecord) -> str | None:
    """The message categories.json sorts by: the severity first for a finding, the kind of suite problem else."""
    cond = CONDITIONS.get(record.condition or "")
    if record.outcome == FAILED and cond is not None:
        return f"{cond.severity.name} {cond.name} ({cond.component}): {record.summary}"
    if record.outcome == COULD_NOT_RUN:
        return COULD_NOT_RUN_PREFIX + record.summary
    if record.outcome == NOT_APPLICABLE:
        return NOT_APPLICABLE_PREFIX + record.summary
    if record.outcome == BROKEN:
        return BROKEN_PREFIX + record.summary
    return None


def categories() -> list[dict[str, Any]]:
    """SEV1..SEV4 for findings, then the suite's own problems; Allure 2 and 3 both read this shape."""
    cats: list[dict[str, Any]] = [
        {"name": f"{sev.name} - {sev.level} (respond: {sev.response})", "matchedStatuses": ["failed"],
         "messageRegex": rf"^{sev.name} [\s\S]*"}
        for sev in Severity
    ]
    cats.append({
        "name": SUITE_PROBLEM, "matchedStatuses": ["broken", "skipped"],
        "messageRegex": rf"^(?:{COULD_NOT_RUN_PREFIX}|{BROKEN_PREFIX})[\s\S]*",
    })
    cats.append({"name": f"{SUITE_PROBLEM}: unexpected error", "matchedStatuses": ["broken"]})
    return cats


# --- evidence into attachments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attached:
    name: str
    mime: str
    ext: str
    body: bytes | None = None
    path: Path | None = None


def attachments_for(evidence: dict[str, Any], root: Path) -> list[Attached]:
    """One evidence item (already redacted) as the attachments a reader opens."""
    kind, title, text = str(evidence.get("kind", "")), str(evidence.get("title", "")), str(evidence.get("text", ""))
    data = evidence.get("data") or {}
    label = {"http": "HTTP", "sql": "SQL", "log": "Log", "host": "Host", "dns": "DNS",
             "browser": "Browser"}.get(kind, kind.capitalize() or "Evidence")
    out: list[Attached] = []
    if kind == "log":
        out.append(Attached(f"{label}: {title}", "text/html", "html", log_html(title, text).encode()))
    else:
        out.append(Attached(f"{label}: {title}", "text/plain", "txt", text.encode()))
    if kind == "sql" and isinstance(data, dict) and data.get("columns"):
        out.append(Attached(f"SQL result: {title}", "text/csv", "csv",
                            table_csv(data["columns"], data.get("rows") or []).encode()))
    if isinstance(data, dict):
        for key, name, mime, ext in (("screenshot", "Screenshot", "image/png", "png"),
                                     ("chart", "Response-time chart", "image/svg+xml", "svg"),
                                     ("trace", "Playwright trace (playwright show-trace FILE)",
                                      "application/vnd.allure.playwright-trace", "zip")):
            value = data.get(key)
            if not value or not isinstance(value, str):
                continue
            path = Path(value) if Path(value).is_absolute() else root / value
            if path.is_file():
                out.append(Attached(f"{name}: {title}", mime, ext, path=path))
            else:
                out.append(Attached(f"{name}: {title} (missing)", "text/plain", "txt",
                                    f"the {key} file {value} was not found after the check".encode()))
    return out


def log_html(title: str, text: str) -> str:
    """A log excerpt with the matching lines (``>> ``) marked, readable without the report's styles."""
    rows = []
    for line in text.splitlines():
        if line.startswith(">> "):
            rows.append(f'<span class="hit">{html.escape(line[3:])}</span>')
        else:
            rows.append(html.escape(line))
    body = "\n".join(rows)
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title><style>"
        "body{font:13px/1.45 ui-monospace,monospace;margin:8px}pre{white-space:pre-wrap;margin:0}"
        ".hit{display:block;background:#fde2e1;border-left:4px solid #d93025;padding-left:6px}"
        "</style></head><body><pre>" + body + "</pre></body></html>"
    )


def table_csv(columns: list[Any], rows: list[Any]) -> str:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([str(c) for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else v if isinstance(v, str) else json.dumps(v) for v in row])
    return buffer.getvalue()



# --- a check's result and the run's verdict, as Allure results ------------------------------------------


def complete_result(result: TestResult, info: CheckInfo, record: CheckRecord, playbook: str | None,
                    root: Path) -> list[Attached]:
    """Complete allure-pytest's result of a check from its record; returns the evidence to attach to it."""
    marker_cond = CONDITIONS.get(info.condition or "")
    cond = CONDITIONS.get(record.condition or "") or marker_cond
    ours = {LabelType.EPIC, LabelType.FEATURE, LabelType.STORY, LabelType.SEVERITY}
    our_tags = {s.name for s in Severity} | set(CONDITIONS)
    result.labels = [lb for lb in result.labels
                     if lb.name not in ours and not (lb.name == LabelType.TAG and lb.value in our_tags)]
    result.labels += [Label(name, value) for name, value in labels_for(info, cond)]
    result.descriptionHtml = description_html(info, cond, marker_cond)
    if cond is not None and playbook:
        url = f"{playbook}#{section_anchor(cond.section)}"
        if not any(link.url == url for link in result.links):
            result.links.append(Link("link", url, f"Playbook: {cond.section}"))
    message = status_message(record)
    if message is not None:
        details = result.statusDetails or StatusDetails()
        details.message = message
        if record.outcome != BROKEN:  # a finding is its message and evidence; a bug keeps its traceback
            details.trace = None
        result.statusDetails = details
    result.status = STATUS.get(record.outcome, result.status)
    return [attached for evidence in record.evidence for attached in attachments_for(evidence, root)]

def verdict_result(verdict: Verdict) -> tuple[TestResult, list[Attached]]:
    """The run's verdict as one more result: where the escalated findings and the headline live."""
    data = verdict.to_dict()
    started = int(datetime.fromisoformat(verdict.started_at).timestamp() * 1000)
    full_name = f"scenescout::verdict::{verdict.target}"
    result = TestResult(
        uuid=uuid4(), name=verdict.headline, fullName=full_name, historyId=md5(full_name),
        testCaseId=md5(full_name), start=started, stop=now(),
        status=(Status.BROKEN if verdict.interrupted  # stopped before a verdict: never a green one
                else Status.FAILED if verdict.severity else Status.BROKEN if verdict.blind else Status.PASSED),
    )
    if verdict.blind and verdict.severity is None:  # a component not checked: never a green verdict
        result.statusDetails = StatusDetails(message=verdict.headline, trace="\n".join(verdict.lines()))
    sev = verdict.severity
    result.labels = [Label(LabelType.EPIC, VERDICT_EPIC), Label(LabelType.FEATURE, verdict.target),
                     Label(LabelType.STORY, "the run's verdict"), Label(LabelType.SUITE, VERDICT_EPIC)]
    if verdict.blind:  # with or without a finding, the blind component is tagged on the verdict
        result.labels.append(Label(LabelType.TAG, "NOT CHECKED"))
    if sev is not None:
        result.labels += [Label(LabelType.SEVERITY, ALLURE_SEVERITY[sev]), Label(LabelType.TAG, sev.name)]
        worst = [f for f in verdict.findings if f.severity == sev]
        result.statusDetails = StatusDetails(
            message=f"{sev.name} {worst[0].condition} ({worst[0].component}): {verdict.headline}",
            trace="\n".join(verdict.lines()),
        )
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(f.severity.name)}</td><td>{e(f.component)}</td><td>{e(f.condition)}</td>"
        f"<td>{e(f.check)}</td><td>{e(f.summary)}</td><td>{e(f.next_step)}</td></tr>"
        for f in verdict.findings
    )
    causes = "".join(
        f"<li><b>{e(c['component'])}</b>: {e(c['condition'])} ({e(c['severity'])}) - {e(c['finding'])}"
        + (f"; symptoms: {e(', '.join(c['symptoms']))}" if c["symptoms"] else "") + "</li>"
        for c in verdict.probable_causes)
    changes = "".join(f"<li>{e(c['text'])}</li>" for c in verdict.changes)
    result.descriptionHtml = (
        f"<p><b>{e(verdict.headline)}</b> ({e(verdict.target)}, {e(verdict.base_url)}; "
        f"{e(verdict.started_at)} to {e(verdict.finished_at)})</p>"
        + (f"<p><b>Probable cause</b></p><ol>{causes}</ol>" if causes else "")
        + (f"<p><b>Changed since the last healthy run ({e(str(verdict.changes_since))})</b></p><ul>{changes}</ul>"
           if changes else "")
        + (f"<table><tr><th>Severity</th><th>Component</th><th>Condition</th><th>Check</th>"
           f"<th>What it saw</th><th>Next step (playbook)</th></tr>{rows}</table>" if rows else
           "<p>No findings.</p>")
    )
    return result, [
        Attached("Verdict", "text/plain", "txt", "\n".join(verdict.lines()).encode()),
        Attached("verdict.json", "application/json", "json", json.dumps(data, indent=2).encode()),
    ]


# --- the run's environment: environment.properties and executor.json ------------------------------------


def executor(env: dict[str, str], verdict: Verdict) -> dict[str, str]:
    return {
        "name": env["run_by"], "type": "pytest",
        "buildName": f"{verdict.target} {verdict.started_at} ({env['selection'] or 'all checks'})",
        "reportName": report.title_of(verdict),
    }


def environment(
    verdict: Verdict, *, root: Path, markexpr: str, args: Sequence[str], pytest_version: str,
) -> dict[str, str]:
    """environment.properties: the run's verdict, and how it was run (``root``, ``-m``, the command line and
    the pytest version, given by the pytest adapter: this module does not know pytest)."""
    cause = verdict.probable_causes[0] if verdict.probable_causes else None
    return {
        "target": verdict.target,
        "base_url": verdict.base_url,
        "verdict": verdict.headline,
        "severity": verdict.label,  # SEV1..SEV4, OK, NOT CHECKED or INTERRUPTED, as verdict.json says
        "not_checked": ", ".join(f"{b['component']}: {b['reason']}" for b in verdict.blind) or "none",
        "probable_cause": f"{cause['component']}: {cause['finding']}" if cause else "none",
        "changed_since_last_healthy_run": "; ".join(c["text"] for c in verdict.changes[:3]) or "nothing recorded",
        "started_at": verdict.started_at,
        "finished_at": verdict.finished_at,
        "run_by": f"{_user()}@{socket.gethostname()}",
        "suite_commit": git_commit(root),
        "selection": f"-m {markexpr}" if markexpr else "",
        "command": " ".join(["pytest", *args]),
        "python": platform.python_version(),
        "pytest": pytest_version,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


_KNOWN_COMMITS: dict[Path, str] = {}


def remember_git_commit(root: Path) -> None:
    """Ask git once for runs about to start together (the gate's forked target runs): each finds it known."""
    _KNOWN_COMMITS[root] = git_commit(root)


def git_commit(root: Path) -> str:
    """``97c8d52`` (``+ local changes`` when the tree differs), or why it is not known."""
    if root in _KNOWN_COMMITS:
        return _KNOWN_COMMITS[root]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")


def properties(values: dict[str, str]) -> str:
    def escape(text: str, key: bool = False) -> str:
        text = text.replace("\\", "\\\\").replace("\n", "\\n")
        return re.sub(r"([=: ])", r"\\\1", text) if key else text

    return "".join(f"{escape(k, key=True)}={escape(v)}\n" for k, v in values.items())
