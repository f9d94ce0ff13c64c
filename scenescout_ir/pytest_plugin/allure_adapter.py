"""The pytest adapter of the Allure results: allure-pytest's listener wired to a redacting writer.

Registered with ``scenescout_ir.pytest_plugin.plugin`` (its ``pytest_plugins``). Every run of the checks writes Allure
results (allure-pytest) next to its verdict file: into its own ``reports/runs/.running-*/allure-results``
by default, moved into the kept run at its end (``reports/allure-results`` then links to it), so
concurrent runs never mix. What goes into each result (labels, description, status message, evidence
as attachments, the environment and the verdict as one more result) is allure_mapping.py; this module
hooks it into pytest: labels as markers at collection (so ``--allure-features`` etc. select by them),
each check's result completed from its record, and after the run categories.json,
environment.properties, executor.json (``--clean-alluredir`` would have deleted them at the start)
and the verdict's result, written when after_run.py asks for them.

allure-pytest's own wiring stands down (its option is taken over here) and ours writes through the
redactor: every result, container and attachment that reaches the results dir is scrubbed by
``suite(config).redact``, whatever put it there (a check's own ``allure.attach`` included).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import ATTACHMENT_PATTERN, Attachment, TestResult
from allure_commons.utils import uuid4

from scenescout_ir.core.conditions import CONDITIONS
from scenescout_ir.judge.verdict import CheckRecord, Verdict
from scenescout_ir.pytest_plugin import waivers
from scenescout_ir.pytest_plugin.plugin import RECORD_KEY, is_check, suite
from scenescout_ir.reporting import report
from scenescout_ir.reporting.allure_mapping import (
    PHASES,
    Attached,
    CheckInfo,
    categories,
    complete_result,
    environment,
    executor,
    labels_for,
    playbook_url,
    properties,
    verdict_result,
)

ALLUREDIR_ENV = "SCENESCOUT_ALLUREDIR"
PLUGIN_NAME = "scenescout_ir.allure"
RUN_RESULTS_KEY = "scenescout_results_dir"  # xdist: the controller's per-run results dir, for its workers
Redact = Callable[[Any], str]


def check_info(item: pytest.Item) -> CheckInfo:
    """What the report shows of a collected check: its phase (from its marker), condition and playbook line."""
    phase = next((label for marker, label in PHASES if item.get_closest_marker(marker)), PHASES[0][1])
    marker = item.get_closest_marker("condition")
    function = getattr(item, "function", None)
    doc = " ".join((getattr(function, "__doc__", None) or "").split())
    return CheckInfo(item.nodeid, item.name, phase, marker.args[0] if marker and marker.args else None, doc)


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

    @allure_commons.hookimpl
    def report_container(self, container: Any) -> None:
        if container_says_something(container):
            self._report_item(container)

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


SLOW_FIXTURE_MS = 1000


def container_says_something(container: Any) -> bool:
    """A container (the fixtures that set up and tore down some checks) worth a file: one of its fixtures did not
    pass, carries an attachment, a step or a message, or took a second or more. The rest (about 50 a run: every
    fixture of every check, set up in milliseconds) say nothing a check's own result does not, yet each is one
    more file to write, keep, merge and prune."""
    if not container.children:
        return False
    for fixture in [*container.befores, *container.afters]:
        if fixture.status not in (None, "passed") or fixture.attachments or fixture.steps or fixture.statusDetails:
            return True
        if fixture.start is not None and fixture.stop is not None and fixture.stop - fixture.start >= SLOW_FIXTURE_MS:
            return True
    return False


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


# --- the plugin ---------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Take allure-pytest's --alluredir before its own pytest_configure reads it."""
    from scenescout_ir.pytest_plugin.options import active

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


def _allure_selects(config: pytest.Config) -> bool:
    """allure-pytest selects the checks to run by their labels (--allure-features and the like) or a test plan."""
    option = config.option
    return any(getattr(option, name, None) for name in (
        "allure_epics", "allure_features", "allure_stories", "allure_ids", "allure_severities", "allure_labels",
    )) or bool(os.environ.get("ALLURE_TESTPLAN_PATH"))


def _reports_dir(config: pytest.Config, root: Path) -> Path:
    from scenescout_ir.pytest_plugin.options import option_path

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

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None, None, None]:
        early = _allure_selects(self.config)
        if early:  # allure-pytest selects by labels: every check collected is labelled before it selects
            self._label(items)
        yield
        if not early:  # else only the checks left to run (-m emergency: 29 of the 91 collected)
            self._label(items)

    def _label(self, items: list[pytest.Item]) -> None:
        for item in items:
            if not is_check(item):
                continue
            info = check_info(item)
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
        for attached in complete_result(result, info, record, self.playbook, self.root):
            self.attach(result, attached)
        waivers.on_allure_result(result, record, suite(self.config).target.waivers)

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
        env = environment(verdict, root=Path(str(self.config.rootpath)),
                          markexpr=getattr(self.config.option, "markexpr", "") or "",
                          args=self.config.invocation_params.args, pytest_version=pytest.__version__)
        self.writer.write_bytes("environment.properties", redact(properties(env)).encode())
        self.writer.write_bytes("executor.json", redact(json.dumps(executor(env, verdict), indent=2)).encode())
        result, attachments = verdict_result(verdict)
        for attached in attachments:
            file_name = ATTACHMENT_PATTERN.format(prefix=uuid4(), ext=attached.ext)
            self.writer.report_attached_data(body=attached.body or b"", file_name=file_name)
            result.attachments.append(Attachment(name=attached.name, source=file_name, type=attached.mime))
        self.writer.report_result(result)
