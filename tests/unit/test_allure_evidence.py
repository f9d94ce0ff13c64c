"""The Allure results a run leaves: labels, evidence, categories, environment, redaction, the kept run.

Each test runs a scratch project (pytester, in a subprocess as a user would) whose checks record evidence
the way the probes do, and reads back the files written into the results dir.
"""

import json
import re
import zipfile

import pytest

from scenescout_ir.core.conditions import CONDITIONS
from scenescout_ir.incident import log as incident
from scenescout_ir.reporting.allure_mapping import categories
from tests.forkserver import runpytest_forked

CONFTEST = ""  # the plugin comes from its pytest11 entry point
SECRET = "tm-live-key-7f3a9c"
PLAYBOOK_URL = "https://wiki.example/oncall/incident-response-playbook.md"
TARGETS = """
[targets.local]
base_url = "http://127.0.0.1:9"
dsn_env = "SCRATCH_DSN"
host_checks = false
secret_env = ["SCRATCH_API_KEY"]
[targets.local.sources]
a = { max_age = "1m" }
"""
CHECKS = '''
import zipfile
import allure
import pytest
from scenescout_ir.core.evidence import Evidence
from scenescout_ir.core.outcomes import CouldNotRun, Finding
from scenescout_ir.pytest_plugin.plugin import suite

pytestmark = pytest.mark.emergency
SECRET = "tm-live-key-7f3a9c"


@pytest.fixture
def record(pytestconfig):
    return suite(pytestconfig).evidence


@pytest.mark.condition("partial_outage")
def test_health_passes(record):
    """curl -I https://scenescout.app/health"""
    record(Evidence("http", "GET /health -> 200 in 0.01 s", "GET http://x/health?apikey=" + SECRET + "\\n-> 200"))


@pytest.mark.condition("database_connection")
def test_database_fails(record):
    """psql $DATABASE_URL -c "SELECT 1;" || echo "DATABASE DOWN" """
    record(Evidence("sql", "connectivity", "SELECT 1\\n\\n?column?\\n1",
                    {"columns": ["source", "age_s"], "rows": [["meetup", 10800.5], ["a,b", None]]}))
    assert False, "DATABASE DOWN: connection to postgresql://oncall:" + SECRET + "@db refused"


@pytest.mark.condition("log_errors")
def test_logs_fail(record):
    """tail -100 logs/application.log | grep -i error"""
    record(Evidence("log", "errors in application.log",
                    "app.log: 2 error lines\\n\\n>> ERROR upstream failed key " + SECRET + "\\n>> ERROR <b>boom</b>"))
    allure.attach("the check's own attachment with " + SECRET, "own", allure.attachment_type.TEXT)
    raise AssertionError("application.log: 2 errors in 3 lines")


@pytest.mark.condition("slow_site")
def test_escalates(record):
    """for i in {1..10}; do curl -o /dev/null -s -w "%{time_total}" https://scenescout.app/; done"""
    raise Finding("significant_degradation", "/ took 12.0 s (limit: 10 s)")


@pytest.mark.condition("memory")
def test_cannot_look(record):
    """free -h"""
    record(Evidence("host", "memory (free -h)", "93% used"))
    raise CouldNotRun("psutil cannot read /proc here")


@pytest.mark.condition("memory")
def test_broken(record):
    """ps aux --sort=-%mem | head -10"""
    raise KeyError("a bug in the suite")


@pytest.mark.condition("home_no_events")
def test_browser_fails(record, tmp_path):
    """./scripts/browser-smoke-test.mjs"""
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(range(256)))
    trace = tmp_path / "trace.zip"
    with zipfile.ZipFile(trace, "w") as z:
        z.writestr("trace.network", "GET /api/events?apikey=" + SECRET)
        z.writestr("resources/img.png", b"\\x89PNG\\r\\n\\x1a\\n\\xff\\xfe")
    record(Evidence("browser", "Chromium GET / -> 200, 0 cards", "0 cards",
                    {"screenshot": str(shot), "trace": str(trace), "video": 3}))
    record(Evidence("browser", "a vanished screenshot", "", {"screenshot": str(tmp_path / "gone.png")}))
    chart = tmp_path / "samples.svg"
    chart.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>')
    record(Evidence("http", "samples of /", "10 samples", {"chart": str(chart)}))
    assert False, "/ rendered 0 event cards"
'''


@pytest.fixture
def scratch(pytester, monkeypatch):
    monkeypatch.setenv("SCRATCH_API_KEY", SECRET)
    monkeypatch.setenv("SCENESCOUT_INCIDENTS_DIR", str(pytester.path / "incidents"))
    monkeypatch.delenv("SCENESCOUT_SLACK_WEBHOOK", raising=False)
    monkeypatch.delenv("SCENESCOUT_ALLUREDIR", raising=False)
    monkeypatch.setenv("SCENESCOUT_PLAYBOOK_URL", PLAYBOOK_URL)
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".toml", targets=TARGETS)
    pytester.makepyfile(test_checks=CHECKS)
    return pytester


def run(pytester, *args):
    return runpytest_forked(pytester, "--target", "local", "-p", "no:cacheprovider", *args)


class _Project:
    """A scratch project as ``runpytest_forked`` needs it (its directory; no extra plugins)."""

    plugins: list[str] = []

    def __init__(self, path):
        self.path = path


# one worker runs them all under --dist loadgroup (make test, make test-unit): one run, not one per worker
ONE_RUN = pytest.mark.xdist_group("allure_one_run")


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """The scratch project run once, for the tests that only read what that run wrote (each of them used to run
    it again: the same run, six times)."""
    path = tmp_path_factory.mktemp("one-run")
    (path / "conftest.py").write_text(CONFTEST)
    (path / "targets.toml").write_text(TARGETS.strip())
    (path / "test_checks.py").write_text(CHECKS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCRATCH_API_KEY", SECRET)
        mp.setenv("SCENESCOUT_INCIDENTS_DIR", str(path / "incidents"))
        mp.setenv("SCENESCOUT_PLAYBOOK_URL", PLAYBOOK_URL)
        for name in ("SCENESCOUT_SLACK_WEBHOOK", "SCENESCOUT_ALLUREDIR", "PYTEST_ADDOPTS"):
            mp.delenv(name, raising=False)
        mp.chdir(path)
        project = _Project(path)
        result = run(project)
    assert result.ret == 1, result.outlines  # findings: the run's checks fail as written
    return project


def results_dir(pytester):
    return pytester.path / "reports" / "allure-results"


def results(pytester):
    """name -> result dict, for every check result (and the verdict's) in the results dir."""
    out = {}
    for path in results_dir(pytester).glob("*-result.json"):
        data = json.loads(path.read_text())
        out[data["name"]] = data
    return out


def labels(result, name):
    return [label["value"] for label in result["labels"] if label["name"] == name]


def attachment(pytester, result, name_prefix):
    (found,) = [a for a in result.get("attachments", []) if a["name"].startswith(name_prefix)]
    return found, (results_dir(pytester) / found["source"]).read_bytes()


@ONE_RUN
def test_each_check_is_labelled_from_its_condition_marker(one_run):
    found = results(one_run)
    db = found["test_database_fails"]
    cond = CONDITIONS["database_connection"]
    assert labels(db, "epic") == ["1-2. Initial Response and Investigation"]
    assert labels(db, "feature") == [cond.component] == ["database"]
    assert labels(db, "story") == [cond.name] == ["Database connection problems"]
    assert labels(db, "severity") == ["critical"]
    assert {"SEV2", "database_connection", "emergency"} <= set(labels(db, "tag"))
    assert labels(found["test_logs_fail"], "severity") == ["normal"]  # SEV3
    assert labels(found["test_health_passes"], "severity") == ["critical"]  # labelled though it passed
    (link,) = db["links"]
    assert link["name"] == f"Playbook: {cond.section}"
    assert link["url"] == PLAYBOOK_URL + "#scenario-2-database-connection-failures"
    html = db["descriptionHtml"]
    assert 'psql $DATABASE_URL -c "SELECT 1;" || echo "DATABASE DOWN"' in html.replace("&quot;", '"')
    assert cond.next_step in html and cond.section in html


@ONE_RUN
def test_a_finding_of_another_condition_relabels_the_check_with_what_it_found(one_run):
    escalated = results(one_run)["test_escalates"]
    assert labels(escalated, "severity") == ["critical"]  # significant_degradation is SEV2, slow_site SEV3
    assert labels(escalated, "story") == [CONDITIONS["significant_degradation"].name]
    assert escalated["statusDetails"]["message"].startswith("SEV2 Significant performance degradation")
    assert "Minor performance issues" in escalated["descriptionHtml"]  # what it usually indicates


@ONE_RUN
def test_statuses_and_messages_keep_findings_apart_from_suite_problems(one_run):
    found = results(one_run)
    assert found["test_health_passes"]["status"] == "passed"
    failed = found["test_database_fails"]
    assert failed["status"] == "failed"
    assert failed["statusDetails"]["message"].startswith("SEV2 Database connection problems (database): DATABASE DOWN")
    assert "trace" not in failed["statusDetails"]  # the finding and its evidence, not a traceback
    cannot = found["test_cannot_look"]
    assert cannot["status"] == "skipped"  # allure-pytest alone would call it broken
    assert cannot["statusDetails"]["message"] == "could not run: psutil cannot read /proc here"
    broken = found["test_broken"]
    assert broken["status"] == "broken"
    assert broken["statusDetails"]["message"].startswith("broken check: KeyError")
    assert "Traceback" in broken["statusDetails"]["trace"] or "KeyError" in broken["statusDetails"]["trace"]


@ONE_RUN
def test_categories_sort_findings_by_severity_and_suite_problems_apart(one_run):
    cats = json.loads((results_dir(one_run) / "categories.json").read_text())
    assert cats == categories()
    names = [c["name"] for c in cats]
    assert names[:4] == ["SEV1 - Critical (respond: Immediate)", "SEV2 - High (respond: 30 minutes)",
                         "SEV3 - Medium (respond: 2 hours)", "SEV4 - Low (respond: Next business day)"]

    def category(result):  # as Allure matches: the first whose statuses and message regex fit
        for cat in cats:
            message = (result.get("statusDetails") or {}).get("message", "")
            if result["status"] in cat["matchedStatuses"] and re.search(cat.get("messageRegex", ""), message):
                return cat["name"]
        return None

    found = results(one_run)
    assert category(found["test_database_fails"]).startswith("SEV2")
    assert category(found["test_logs_fail"]).startswith("SEV3")
    assert category(found["test_browser_fails"]).startswith("SEV2")
    assert category(found["test_cannot_look"]) == "Suite or infrastructure problem (not a product finding)"
    assert category(found["test_broken"]) == "Suite or infrastructure problem (not a product finding)"
    assert category(found["test_health_passes"]) is None
    assert category(next(r for n, r in found.items() if n.startswith("VERDICT"))).startswith("SEV2")


@ONE_RUN
def test_evidence_is_attached_to_passed_and_failed_checks_in_a_readable_form(one_run):
    found = results(one_run)
    meta, body = attachment(one_run, found["test_health_passes"], "HTTP: GET /health")
    assert meta["type"] == "text/plain" and b"-> 200" in body
    meta, body = attachment(one_run, found["test_database_fails"], "SQL result: connectivity")
    assert meta["type"] == "text/csv"
    assert body.decode() == 'source,age_s\nmeetup,10800.5\n"a,b",\n'
    meta, body = attachment(one_run, found["test_database_fails"], "SQL: connectivity")
    assert body.startswith(b"SELECT 1")
    meta, body = attachment(one_run, found["test_logs_fail"], "Log: errors in application.log")
    assert meta["type"] == "text/html"
    assert body.count(b'<span class="hit">') == 2 and b"&lt;b&gt;boom&lt;/b&gt;" in body
    meta, body = attachment(one_run, found["test_cannot_look"], "Host: memory")
    assert body == b"93% used"
    browser = found["test_browser_fails"]
    meta, body = attachment(one_run, browser, "Screenshot: Chromium")
    assert meta["type"] == "image/png" and body.startswith(b"\x89PNG") and len(body) == 8 + 256
    meta, body = attachment(one_run, browser, "Playwright trace")
    assert meta["type"] == "application/vnd.allure.playwright-trace" and meta["source"].endswith(".zip")
    with zipfile.ZipFile(results_dir(one_run) / meta["source"]) as z:
        assert z.read("resources/img.png") == b"\x89PNG\r\n\x1a\n\xff\xfe"  # binary members untouched
        assert z.read("trace.network") == b"GET /api/events?apikey=***"
    meta, body = attachment(one_run, browser, "Screenshot: a vanished screenshot (missing)")
    assert b"was not found" in body
    meta, body = attachment(one_run, browser, "Response-time chart: samples of /")
    assert meta["type"] == "image/svg+xml" and body.startswith(b"<svg")


@ONE_RUN
def test_no_secret_reaches_any_file_in_the_results(one_run):
    hits = []
    for path in results_dir(one_run).iterdir():
        data = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        if SECRET.encode() in data:
            hits.append(path.name)
    assert hits == []
    own = results(one_run)["test_logs_fail"]
    (meta,) = [a for a in own["attachments"] if a["name"] == "own"]  # the check's own allure.attach
    assert (results_dir(one_run) / meta["source"]).read_text() == "the check's own attachment with ***"


def test_environment_executor_and_the_verdict_are_written_after_the_run(scratch):
    run(scratch, "--clean-alluredir")
    props = (results_dir(scratch) / "environment.properties").read_text()
    values = dict(line.split("=", 1) for line in props.splitlines())
    assert values["target"] == "local" and values["base_url"] == "http://127.0.0.1:9"
    assert values["verdict"].startswith("VERDICT: SEV2 - High")
    assert values["run_by"] and "@" in values["run_by"]
    assert values["suite_commit"]
    assert values["started_at"] <= values["finished_at"]
    executor = json.loads((results_dir(scratch) / "executor.json").read_text())
    assert executor["type"] == "pytest" and executor["reportName"].startswith("SceneScout local")
    verdict = next(r for n, r in results(scratch).items() if n.startswith("VERDICT: SEV2"))
    assert verdict["status"] == "failed" and labels(verdict, "epic") == ["Run verdict"]
    assert "test_database_fails" in verdict["descriptionHtml"]
    assert {a["name"] for a in verdict["attachments"]} == {"Verdict", "verdict.json"}
    # the probable cause on the overview (the environment widget) and first in the verdict's description
    cause = json.loads((scratch.path / "reports" / "verdict.json").read_text())["probable_causes"][0]
    assert values["probable_cause"] == f"{cause['component']}: {cause['finding']}"
    assert f"<p><b>Probable cause</b></p><ol><li><b>{cause['component']}</b>" in verdict["descriptionHtml"]


def test_each_run_replaces_the_results_and_is_kept_under_runs(scratch, monkeypatch):
    run(scratch)
    first = {p.name for p in results_dir(scratch).iterdir()}
    run(scratch)
    second = {p.name for p in results_dir(scratch).iterdir()}
    assert not (first - {"categories.json", "environment.properties", "executor.json"}) & second
    kept = sorted((scratch.path / "reports" / "runs").iterdir())
    assert len(kept) == 2 and all(re.fullmatch(r"\d{8}T\d{6}Z-SEV2(-\d+)?", k.name) for k in kept)
    for run_dir in kept:
        assert json.loads((run_dir / "verdict.json").read_text())["severity"] == "SEV2"
        assert (run_dir / "allure-results" / "categories.json").is_file()
    monkeypatch.setenv("SCENESCOUT_KEEP_RUNS", "2")
    run(scratch)
    after = sorted((scratch.path / "reports" / "runs").iterdir())
    assert len(after) == 2 and after[0] == kept[1]


def test_an_explicit_alluredir_is_kept_unless_cleaning_is_asked_for(scratch):
    run(scratch, "--alluredir", "out")
    count = len(list((scratch.path / "out").glob("*-result.json")))
    run(scratch, "--alluredir", "out")
    assert len(list((scratch.path / "out").glob("*-result.json"))) == 2 * count
    run(scratch, "--alluredir", "out", "--clean-alluredir")
    assert len(list((scratch.path / "out").glob("*-result.json"))) == count


@pytest.mark.slow  # starts xdist workers
def test_xdist_workers_write_every_result_and_none_wipes_another(scratch):
    run(scratch)
    serial = results(scratch)
    run(scratch, "-n", "2")
    parallel = results(scratch)
    assert sorted(parallel) == sorted(serial)
    assert {n: r["status"] for n, r in parallel.items()} == {n: r["status"] for n, r in serial.items()}
    assert labels(parallel["test_database_fails"], "story") == ["Database connection problems"]


def test_the_suites_own_tests_write_no_allure_results(scratch):
    scratch.mkpydir("tests")
    (scratch.path / "tests" / "test_self.py").write_text("def test_x():\n    pass\n")
    run(scratch, "tests/test_self.py")
    assert not results_dir(scratch).exists()


def test_labels_select_checks_with_allure_options(scratch):
    result = run(scratch, "--allure-features", "logs")
    result.stdout.fnmatch_lines(["*1 failed*deselected*"])


def test_a_run_while_an_incident_is_open_appends_its_findings_with_a_link_to_its_report(scratch):
    path = incident.start(scratch.path / "incidents", "everything is on fire")
    run(scratch, "-m", "emergency")
    (entry,) = incident.parse(path).runs()
    assert entry.severity == "SEV2" and "-m emergency" in entry.headline
    assert len(entry.lines) == 4 and entry.lines[0].startswith("SEV2 browser: Partial system outage")
    run_dir = (path.parent / entry.report).parent.resolve()
    assert run_dir.parent == (scratch.path / "reports" / "runs").resolve()
    assert json.loads((run_dir / "verdict.json").read_text())["severity"] == "SEV2"
    assert SECRET not in path.read_text()
    incident.resolve(scratch.path / "incidents", resolution="r", root_cause="c", impact="i", next_steps="n")
    before = path.read_text()
    run(scratch)
    assert path.read_text() == before  # closed: nothing more is appended


# --- issue 8, item 11: two runs sharing reports/ never mix their evidence -------------------------------

OVERLAPPING = '''
import os, time
from pathlib import Path
import pytest
pytestmark = pytest.mark.emergency
HERE = Path(__file__).parent

def wait_for(name):
    deadline = time.monotonic() + 30
    while not (HERE / name).exists():
        assert time.monotonic() < deadline, f"{name} never appeared"
        time.sleep(0.02)

def test_first_run():
    (HERE / "first-started").touch()
    wait_for("second-finished")  # the other run starts, writes and is kept while this one runs

def test_second_run():
    pass
'''


def test_two_runs_sharing_reports_each_keep_only_their_own_results(scratch):
    import subprocess
    import sys

    from tests.demo_support import wait_for

    scratch.makepyfile(test_checks=OVERLAPPING)
    cmd = [sys.executable, "-m", "pytest", "--target", "local", "-p", "no:cacheprovider"]
    first = subprocess.Popen([*cmd, "-k", "first"], cwd=scratch.path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (scratch.path / "first-started").exists(), "the first run to be inside its check", 30)
        second = subprocess.run([*cmd, "-k", "second"], cwd=scratch.path, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 0, second.stdout[-2000:]
        (scratch.path / "second-finished").touch()
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    runs_dir = scratch.path / "reports" / "runs"
    kept = sorted(p for p in runs_dir.iterdir() if not p.name.startswith("."))
    assert len(kept) == 2 and not [p for p in runs_dir.iterdir() if p.name.startswith(".")]
    names = []
    for run_dir in kept:
        checks = {json.loads(p.read_text())["name"] for p in (run_dir / "allure-results").glob("*-result.json")}
        names.append({n for n in checks if not n.startswith("VERDICT")})
    assert sorted(names, key=sorted) == [{"test_first_run"}, {"test_second_run"}]
    reports = scratch.path / "reports"  # the verdict file is whole, the last run's (replaced atomically)
    assert json.loads((reports / "verdict.json").read_text())["counts"]["total"] == 1
    assert not [p.name for p in reports.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    latest = scratch.path / "reports" / "allure-results"  # the newest kept run's: the first, ending last
    assert latest.resolve() == (kept[0] if names[0] == {"test_first_run"} else kept[1]).joinpath(
        "allure-results").resolve()


def test_a_run_that_could_not_check_the_database_is_not_a_passed_verdict(scratch):
    scratch.makepyfile(test_checks='''
import pytest
from scenescout_ir.core.outcomes import Blind
pytestmark = pytest.mark.emergency

@pytest.mark.condition("database_connection")
def test_database_connectivity():
    raise Blind("database", "password authentication failed for user \\"oncall\\"; fix SCRATCH_DSN")
''')
    result = run(scratch)
    assert result.ret == 6
    verdict = next(r for n, r in results(scratch).items() if n.startswith("VERDICT: NOT CHECKED - database"))
    assert verdict["status"] == "broken"
    assert "DATABASE NOT CHECKED: password authentication failed" in verdict["statusDetails"]["trace"]
    assert {"name": "tag", "value": "NOT CHECKED"} in verdict["labels"]
    (kept,) = (scratch.path / "reports" / "runs").iterdir()  # issue 15: the state of its own, everywhere
    assert kept.name.endswith("-NOT-CHECKED")
    env = (kept / "allure-results" / "environment.properties").read_text()
    assert "severity=NOT CHECKED" in env and "not_checked=database: password authentication failed" in env


def test_only_containers_that_say_something_are_written(tmp_path):
    """A fixture that passed in milliseconds with nothing attached gets no container file (about 50 a run); one
    that failed, was skipped, carries an attachment or a step, or took a second or more, does."""
    from allure_commons.model2 import Attachment, TestAfterResult, TestBeforeResult, TestResultContainer, TestStepResult

    from scenescout_ir.core.redact import Redactor
    from scenescout_ir.pytest_plugin.allure_adapter import RedactingFileLogger

    def container(name, children=("c",), **fixture):
        before = TestBeforeResult(name=name, status=fixture.pop("status", "passed"), start=0,
                                  stop=fixture.pop("ms", 3), **fixture)
        return TestResultContainer(uuid=name, name=name, children=list(children), befores=[before],
                                   afters=[TestAfterResult(name=f"{name}::<lambda>")])

    logger = RedactingFileLogger(tmp_path, Redactor)
    for item in (container("quiet"), container("orphan", children=(), status="failed"),
                 container("failed", status="failed"), container("skipped", status="skipped"),
                 container("attached", attachments=[Attachment(name="a", source="a.txt")]),
                 container("stepped", steps=[TestStepResult(name="s")]), container("slow", ms=1000)):
        logger.report_container(item)
    written = sorted(json.loads(p.read_text())["name"] for p in tmp_path.glob("*-container.json"))
    assert written == ["attached", "failed", "skipped", "slow", "stepped"]


@ONE_RUN
def test_a_run_writes_no_container_for_a_quiet_fixture(one_run):
    names = [b["name"] for p in results_dir(one_run).glob("*-container.json")
             for b in json.loads(p.read_text()).get("befores", [])]
    assert "record" not in names and "pytestconfig" not in names, names


LABEL_PROBE = """
import json


def pytest_deselected(items):
    with open("deselected.json", "a") as fh:
        fh.write(json.dumps({i.name: bool(list(i.iter_markers("allure_label"))) for i in items}) + "\\n")
"""
TWO_CHECKS = """
import pytest


@pytest.mark.emergency
@pytest.mark.condition("log_errors")
def test_now():
    pass


@pytest.mark.comprehensive
@pytest.mark.condition("slow_site")
def test_later():
    pass
"""


def test_only_the_checks_left_to_run_are_labelled_unless_allure_selects_by_label(scratch):
    """Labels are computed for the checks a run keeps (-m emergency: not the comprehensive ones it drops), and for
    every check collected when allure-pytest selects by them (--allure-features), before it does."""
    scratch.makeconftest(CONFTEST + LABEL_PROBE)
    scratch.makepyfile(test_checks=TWO_CHECKS)
    run(scratch, "-m", "emergency")
    run(scratch, "--allure-features", "logs")
    lines = [json.loads(line) for line in (scratch.path / "deselected.json").read_text().splitlines()]
    assert lines == [{"test_later": False}, {"test_later": True}], lines
