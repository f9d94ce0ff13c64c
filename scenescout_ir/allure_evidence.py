"""What a run leaves for the people who were not there: Allure results, the kept run, the incident log, a message.

Registered in conftest.py after ``scenescout_ir.plugin``. Every run of the checks writes Allure results
(allure-pytest) next to its verdict file: into its own ``reports/runs/.running-*/allure-results`` by default,
moved into the kept run at its end (``reports/allure-results`` then links to it), so concurrent runs never mix:

- each check labelled from its condition (conditions.py) in one place, not in the tests: epic = the
  playbook phase its marker belongs to, feature = the component, story = the condition's playbook name,
  the Allure severity of the playbook severity (SEV1 blocker ... SEV4 minor), a link to the playbook
  section, a description (the playbook command it replaces, and what to do when it fails);
- the evidence the check gathered, passed or failed: HTTP exchanges as text, SQL results as CSV tables,
  log excerpts as HTML with the matching lines marked, host figures, browser screenshots and traces;
- a status message that starts with the severity (``SEV2 Database connection problems (database): ...``)
  or ``could not run:`` / ``broken check:``, which categories.json sorts into SEV1..SEV4 and "suite or
  infrastructure problem";
- after the run: categories.json, environment.properties, executor.json (``--clean-alluredir`` would
  have deleted them at the start) and one more result, the run's verdict, with the escalated findings.

allure-pytest's own wiring stands down (its option is taken over here) and ours writes through the
redactor: every result, container and attachment that reaches the results dir is scrubbed by
``suite(config).redact``, whatever put it there (a check's own ``allure.attach`` included).

Then the run is kept under ``runs/<run id>/`` (report.py), its verdict appended to the open incident's
log (incident.py) and, for SEV1 and SEV2, a message posted to the team's webhook (notify.py).
A failure in any of these is one line at the end of the output: it never changes the run's outcome.
"""

from __future__ import annotations

import getpass
import html
import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import ATTACHMENT_PATTERN, Attachment, Label, Link, Status, StatusDetails, TestResult
from allure_commons.types import LabelType
from allure_commons.utils import md5, now, uuid4

from . import incident, notify, report
from .conditions import CONDITIONS, PLAYBOOK, Condition, Severity
from .plugin import RECORD_KEY, is_check, suite
from .verdict import BROKEN, COULD_NOT_RUN, FAILED, NOT_APPLICABLE, PASSED, CheckRecord, Verdict

ALLUREDIR_ENV = "SCENESCOUT_ALLUREDIR"
PLAYBOOK_URL_ENV = "SCENESCOUT_PLAYBOOK_URL"
PLUGIN_NAME = "scenescout_ir.allure"
RUN_RESULTS_KEY = "scenescout_results_dir"  # xdist: the controller's per-run results dir, for its workers

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
_STATUS = {PASSED: Status.PASSED, FAILED: Status.FAILED, COULD_NOT_RUN: Status.SKIPPED,
           NOT_APPLICABLE: Status.SKIPPED, BROKEN: Status.BROKEN}

Redact = Callable[[Any], str]


# --- what goes into the results dir: always through the redactor --------------------------------------


class RedactingFileLogger(AllureFileLogger):
    """allure-commons' file writer, with every string it writes scrubbed first.

    Text attachments are redacted as text; zip files (Playwright traces) member by member; binary files
    (screenshots) are copied as they are: an image cannot be scrubbed.
    """

    def __init__(self, report_dir: Path, redactor: Callable[[], Any]) -> None:
        super().__init__(str(report_dir), clean=False)
        self._redactor = redactor

    @property
    def results_dir(self) -> Path:
        return self._report_dir

    def _report_item(self, item: Any) -> None:
        from attr import asdict

        redact = self._redactor()
        data = redact.data(asdict(item, filter=lambda _, v: v or v is False))
        filename = item.file_pattern.format(prefix=uuid4())
        self.write_bytes(filename, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def write_bytes(self, file_name: str, body: bytes) -> None:
        tmp = self._report_dir / f"{file_name}.tmp"
        tmp.write_bytes(body)
        os.replace(tmp, self._report_dir / file_name)

    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        self.write_bytes(file_name, _scrub_bytes(body if isinstance(body, bytes) else str(body).encode(),
                                                 self._redactor()))

    @allure_commons.hookimpl
    def report_attached_file(self, source: Any, file_name: str) -> None:
        self.write_bytes(file_name, _scrub_file(Path(source), self._redactor()))


def _scrub_bytes(body: bytes, redact: Redact) -> bytes:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body  # binary (an image): nothing to scrub
    return redact(text).encode("utf-8")


def _scrub_file(path: Path, redact: Redact) -> bytes:
    data = path.read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return _scrub_bytes(data, redact)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, _scrub_bytes(src.read(info), redact))
    return out.getvalue()


# --- what a check is, for the report --------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInfo:
    nodeid: str
    name: str
    phase: str
    condition: str | None  # the condition marker's key
    doc: str  # the playbook command it replaces

    @classmethod
    def of(cls, item: pytest.Item) -> CheckInfo:
        phase = next((label for marker, label in PHASES if item.get_closest_marker(marker)), PHASES[0][1])
        marker = item.get_closest_marker("condition")
        function = getattr(item, "function", None)
        doc = " ".join((getattr(function, "__doc__", None) or "").split())
        return cls(item.nodeid, item.name, phase, marker.args[0] if marker and marker.args else None, doc)


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


# --- the plugin ---------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Take allure-pytest's --alluredir before its own pytest_configure reads it."""
    from .plugin import active

    if not hasattr(config.option, "allure_report_dir"):
        return  # allure-pytest disabled (-p no:allure_pytest)
    if not active(config):
        return  # another project's run: allure-pytest as it is
    explicit = config.option.allure_report_dir
    root = Path(str(config.rootpath))
    if explicit:
        results: Path | None = Path(explicit).absolute()
        clean = bool(config.option.clean_alluredir) and not config.option.collectonly
    elif _only_the_suites_own_tests(config, root):
        results, clean = None, False
    else:
        configured = os.environ.get(ALLUREDIR_ENV, "").strip()
        shared = getattr(config, "workerinput", {}).get(RUN_RESULTS_KEY)  # an xdist worker: its controller's
        clean = bool(configured) and not config.option.collectonly  # an explicit dir is the last run's
        results = (root / configured) if configured else Path(shared) if shared else (
            report.running_dir(_reports_dir(config, root)) / report.RESULTS)  # this run's own
    config.option.allure_report_dir = None  # allure-pytest stands down; ours writes through the redactor
    if results is not None:
        config.pluginmanager.register(AllureEvidence(config, results, clean), PLUGIN_NAME)


def _reports_dir(config: pytest.Config, root: Path) -> Path:
    from .plugin import option_path

    return option_path(config, "verdict_file").parent


def _only_the_suites_own_tests(config: pytest.Config, root: Path) -> bool:
    """``pytest tests/...``: the suite's tests of itself write no Allure results unless asked (--alluredir)."""
    own = root / "tests"
    invoked = Path(str(config.invocation_params.dir))
    paths = [Path(str(a).split("::")[0]) for a in config.args]
    return bool(paths) and all((invoked / p).resolve().is_relative_to(own) for p in paths)


class AllureEvidence:
    """allure-pytest's listener with our writer, plus labels, evidence and the run's extras."""

    def __init__(self, config: pytest.Config, results_dir: Path, clean: bool) -> None:
        from allure_pytest.listener import AllureListener

        self.config = config
        self.results_dir = results_dir
        self.root = Path(str(config.rootpath))
        self.is_worker = hasattr(config, "workerinput")
        if clean and not self.is_worker:  # xdist workers never clean: the others' results are already there
            shutil.rmtree(results_dir, ignore_errors=True)
        self.writer = RedactingFileLogger(results_dir, lambda: suite(config).redact)
        self.listener = AllureListener(config)
        config.pluginmanager.register(self.listener, "allure_listener")
        allure_commons.plugin_manager.register(self.listener)
        allure_commons.plugin_manager.register(self.writer)
        config.add_cleanup(self._unregister)
        self.checks: dict[str, CheckInfo] = {}
        self.records: dict[str, CheckRecord] = {}
        self.playbook = playbook_url(self.root)

    def _unregister(self) -> None:
        for plugin in (self.writer, self.listener):
            if allure_commons.plugin_manager.is_registered(plugin):
                allure_commons.plugin_manager.unregister(plugin)
        running = self.results_dir.parent
        if not self.is_worker and running.name.startswith(report.RUNNING) and not any(
                p.is_file() for p in running.rglob("*")):
            shutil.rmtree(running, ignore_errors=True)  # a run that kept nothing (--collect-only, no checks)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: every worker writes into this run's results dir."""
        node.workerinput[RUN_RESULTS_KEY] = str(self.results_dir)

    def moved_to(self, results_dir: Path) -> None:
        """The run was kept: what is written from now on (session fixtures' teardown) goes with it."""
        self.results_dir = results_dir
        self.writer._report_dir = results_dir

    # --- labels, centrally: markers at collection (so --allure-features etc. select by them) ------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if not is_check(item):
                continue
            info = CheckInfo.of(item)
            self.checks[item.nodeid] = info
            cond = CONDITIONS.get(info.condition or "")
            for label_type, value in labels_for(info, cond):
                item.add_marker(pytest.mark.allure_label(value, label_type=label_type))

    # --- each check's result: status message, labels of what it found, description, evidence ------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RECORD_KEY and isinstance(value, dict):
                self.records[report.nodeid] = CheckRecord.from_dict(value)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """After teardown, before allure-pytest writes the result: complete it from the check's record."""
        record = self.records.pop(nodeid, None)
        info = self.checks.get(nodeid)
        result = self.listener.allure_logger.get_test(None)
        if record is None or info is None or result is None:
            return
        self.complete(result, info, record)

    def complete(self, result: TestResult, info: CheckInfo, record: CheckRecord) -> None:
        marker_cond = CONDITIONS.get(info.condition or "")
        cond = CONDITIONS.get(record.condition or "") or marker_cond
        ours = {LabelType.EPIC, LabelType.FEATURE, LabelType.STORY, LabelType.SEVERITY}
        our_tags = {s.name for s in Severity} | set(CONDITIONS)
        result.labels = [lb for lb in result.labels
                         if lb.name not in ours and not (lb.name == LabelType.TAG and lb.value in our_tags)]
        result.labels += [Label(name, value) for name, value in labels_for(info, cond)]
        result.descriptionHtml = description_html(info, cond, marker_cond)
        if cond is not None and self.playbook:
            url = f"{self.playbook}#{section_anchor(cond.section)}"
            if not any(link.url == url for link in result.links):
                result.links.append(Link("link", url, f"Playbook: {cond.section}"))
        message = status_message(record)
        if message is not None:
            details = result.statusDetails or StatusDetails()
            details.message = message
            if record.outcome != BROKEN:  # a finding is its message and evidence; a bug keeps its traceback
                details.trace = None
            result.statusDetails = details
        result.status = _STATUS.get(record.outcome, result.status)
        for evidence in record.evidence:
            for attached in attachments_for(evidence, self.root):
                self.attach(result, attached)

    def attach(self, result: Any, attached: Attached) -> None:
        file_name = ATTACHMENT_PATTERN.format(prefix=uuid4(), ext=attached.ext)
        try:
            if attached.path is not None:
                self.writer.report_attached_file(source=str(attached.path), file_name=file_name)
            else:
                self.writer.report_attached_data(body=attached.body or b"", file_name=file_name)
        except OSError:
            return  # a screenshot that vanished: the rest of the evidence still goes in
        result.attachments.append(Attachment(name=attached.name, source=file_name, type=attached.mime))

    # --- after the run: the files --clean-alluredir deletes, and the verdict as a result ------------------

    def finish(self, verdict: Verdict) -> None:
        redact = suite(self.config).redact
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.writer.write_bytes("categories.json", json.dumps(categories(), indent=2).encode())
        env = environment(self.config, verdict)
        self.writer.write_bytes("environment.properties", redact(_properties(env)).encode())
        executor = {
            "name": env["run_by"], "type": "pytest",
            "buildName": f"{verdict.target} {verdict.started_at} ({env['selection'] or 'all checks'})",
            "reportName": report.title_of(verdict.to_dict()),
        }
        self.writer.write_bytes("executor.json", redact(json.dumps(executor, indent=2)).encode())
        self.writer.report_result(self.verdict_result(verdict))

    def verdict_result(self, verdict: Verdict) -> TestResult:
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
        for name, mime, ext, body in (
            ("Verdict", "text/plain", "txt", "\n".join(verdict.lines())),
            ("verdict.json", "application/json", "json", json.dumps(data, indent=2)),
        ):
            file_name = ATTACHMENT_PATTERN.format(prefix=uuid4(), ext=ext)
            self.writer.report_attached_data(body=body, file_name=file_name)
            result.attachments.append(Attachment(name=name, source=file_name, type=mime))
        return result


def environment(config: pytest.Config, verdict: Verdict) -> dict[str, str]:
    cause = verdict.probable_causes[0] if verdict.probable_causes else None
    return {
        "target": verdict.target,
        "base_url": verdict.base_url,
        "verdict": verdict.headline,
        "probable_cause": f"{cause['component']}: {cause['finding']}" if cause else "none",
        "changed_since_last_healthy_run": "; ".join(c["text"] for c in verdict.changes[:3]) or "nothing recorded",
        "started_at": verdict.started_at,
        "finished_at": verdict.finished_at,
        "run_by": f"{_user()}@{socket.gethostname()}",
        "suite_commit": git_commit(Path(str(config.rootpath))),
        "selection": f"-m {config.option.markexpr}" if getattr(config.option, "markexpr", "") else "",
        "command": " ".join(["pytest", *config.invocation_params.args]),
        "python": platform.python_version(),
        "pytest": pytest.__version__,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def git_commit(root: Path) -> str:
    """``97c8d52`` (``+ local changes`` when the tree differs), or why it is not known."""
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


def _properties(values: dict[str, str]) -> str:
    def escape(text: str, key: bool = False) -> str:
        text = text.replace("\\", "\\\\").replace("\n", "\\n")
        return re.sub(r"([=: ])", r"\\\1", text) if key else text

    return "".join(f"{escape(k, key=True)}={escape(v)}\n" for k, v in values.items())


# --- after the verdict: keep the run, log it in the incident, notify ------------------------------------


class AfterRun:
    """The lines printed under the VERDICT block: where the run went, and what could not be done."""

    def __init__(self) -> None:
        self.lines: list[str] = []


def _after_run(config: pytest.Config) -> AfterRun:
    plugin = config.pluginmanager.get_plugin("scenescout_ir.after_run")
    if plugin is None:
        plugin = AfterRun()
        config.pluginmanager.register(plugin, "scenescout_ir.after_run")
    assert isinstance(plugin, AfterRun)
    return plugin


@pytest.hookimpl
def pytest_scenescout_verdict(verdict: Verdict, config: pytest.Config) -> None:
    out = _after_run(config).lines
    s = suite(config)
    redact = s.redact
    evidence = config.pluginmanager.get_plugin(PLUGIN_NAME)
    results_dir: Path | None = None
    if isinstance(evidence, AllureEvidence):
        results_dir = evidence.results_dir
        try:
            evidence.finish(verdict)
        except OSError as exc:
            out.append(f"could not complete the Allure results in {_rel(results_dir)}: {exc.strerror}")
    reports_dir = s.verdict_file.parent
    incidents = incident.incidents_dir(s.root)
    run_dir: Path | None = None
    try:
        run_dir = report.archive_run(reports_dir, verdict.to_dict(), results_dir)
        moved = results_dir is not None and not results_dir.exists() and (run_dir / report.RESULTS).is_dir()
        if isinstance(evidence, AllureEvidence) and moved:  # this run's own results, now in the kept run
            evidence.moved_to(run_dir / report.RESULTS)
            report.link_latest(reports_dir, run_dir)
        protected = report.linked_runs(incident.logs(incidents))
        report.prune_runs(reports_dir, report.keep_runs(), protected | {run_dir.name})
        out.append(f"run kept in {_rel(run_dir)} (make report renders {_rel(run_dir / report.REPORT)})")
    except (OSError, report.ReportError) as exc:
        out.append(f"could not keep the run in {_rel(reports_dir / report.RUNS)}: {exc}")
    link = _relpath(run_dir / report.REPORT, incidents) if run_dir else None
    logged: Path | None = None
    try:
        logged = incident.append_event(
            incidents, incident.run_lines(verdict.to_dict(), report=link, selection=config.option.markexpr or ""),
            redact=redact,
        )
        if logged:
            out.append(f"findings appended to the open incident {_rel(logged)}")
    except incident.IncidentError as exc:
        out.append(f"could not append to the incident log: {exc}")
    message = notify.verdict_message(verdict.to_dict(), report=_rel(run_dir / report.REPORT) if run_dir else None,
                                     incident=logged.name if logged else None)
    if message is not None:
        sent = notify.send(message, redact=redact)
        if sent is not None:
            delivered, what = sent
            out.append(f"notification {'sent' if delivered else 'NOT sent'}: {what}")
            if logged:
                try:
                    incident.append_event(incidents, [
                        f"{incident.NOTIFIED}{verdict.label} to {what}" if delivered
                        else f"{incident.NOTIFIED}FAILED ({verdict.label}): {what}"
                    ], redact=redact)
                except incident.IncidentError as exc:
                    out.append(f"could not append to the incident log: {exc}")


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, None, None]:
    yield
    plugin = terminalreporter.config.pluginmanager.get_plugin("scenescout_ir.after_run")
    for line in plugin.lines if isinstance(plugin, AfterRun) else ():
        terminalreporter.write_line(line)


def _relpath(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:
        return str(path)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
