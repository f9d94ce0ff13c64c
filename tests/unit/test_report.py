"""The shareable report: Allure 3 (node_modules/.bin/allure, installed by `make test`/`make report` with npm ci)
renders each kept run into one self-contained HTML file, oldest first, keeping the history across runs."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from scenescout_ir.judge.verdict import Verdict
from scenescout_ir.pytest_plugin.browser_fixtures import chromium_executable
from scenescout_ir.reporting import report
from tests.forkserver import runpytest_forked
from tests.unit.test_allure_evidence import CONFTEST, TARGETS

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
import pytest
pytestmark = pytest.mark.emergency

@pytest.mark.condition("source_stale")
def test_fresh():
    assert False, "meetup: newest event is 181 min old (limit: 10 min)"

@pytest.mark.condition("log_errors")
def test_logs():
    pass
"""


@pytest.fixture
def scratch(pytester, monkeypatch):
    monkeypatch.setenv("SCENESCOUT_INCIDENTS_DIR", str(pytester.path / "incidents"))
    monkeypatch.delenv("SCENESCOUT_SLACK_WEBHOOK", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".toml", targets=TARGETS)
    pytester.makepyfile(test_checks=CHECK)
    return pytester


@pytest.fixture
def allure():
    return report.allure_command(ROOT)


def kept(pytester, runs):
    for _ in range(runs):
        runpytest_forked(pytester, "--target", "local", "-p", "no:cacheprovider")
    return pytester.path / "reports"


def test_each_kept_run_becomes_one_self_contained_file_with_history(scratch, allure):
    reports_dir = kept(scratch, 2)
    rendered = report.render_pending(reports_dir, allure=allure)
    runs = report.runs(reports_dir)
    assert rendered == [r / "report.html" for r in runs] and len(runs) == 2
    for run_dir in runs:
        assert sorted(p.name for p in run_dir.iterdir()) == ["allure-results", "report.html", "verdict.json"]
        html = (run_dir / "report.html").read_text()
        assert html.lstrip().lower().startswith("<!doctype html>")
        assert 'src="http' not in html.split("</head>")[0].replace('src="https://www.googletagmanager', "")
    latest = reports_dir / "report.html"
    assert latest.read_bytes() == (runs[-1] / "report.html").read_bytes()
    history = (reports_dir / "history.jsonl").read_text().splitlines()
    assert len(history) == 2  # one point per run: the trend across runs
    assert report.render_pending(reports_dir, allure=allure) == []  # nothing rendered twice
    kept(scratch, 1)
    (newest,) = report.render_pending(reports_dir, allure=allure)
    assert len((reports_dir / "history.jsonl").read_text().splitlines()) == 3
    assert latest.read_bytes() == newest.read_bytes()
    assert not [p for p in reports_dir.iterdir() if p.name.startswith(".render-")]  # its scratch dir is gone


def test_the_report_is_titled_with_the_run_and_its_verdict(scratch, allure):
    reports_dir = kept(scratch, 1)
    (run_dir,) = report.runs(reports_dir)
    verdict = Verdict.from_dict(json.loads((run_dir / "verdict.json").read_text()))
    assert report.title_of(verdict).startswith("SceneScout local ")
    assert report.title_of(verdict).endswith(": SEV1 - Critical - respond immediately")  # one source, all stale
    report.render_pending(reports_dir, allure=allure)
    assert report.title_of(verdict) in (run_dir / "report.html").read_text()


def test_a_missing_tool_or_missing_results_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(report.ALLURE_ENV, str(tmp_path / "no-allure"))
    with pytest.raises(report.ReportError, match=r"not installed .*run `make report`"):
        report.allure_command(ROOT)
    monkeypatch.delenv(report.ALLURE_ENV)
    with pytest.raises(report.ReportError, match="no Allure results at"):
        report.render(tmp_path / "nothing", tmp_path / "r.html", title="t", allure=report.allure_command(ROOT))


@pytest.mark.slow  # runs the Allure report tool
def test_the_report_command_says_what_it_made_or_why_not_in_one_line(scratch, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "scenescout_ir", "report", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=120, env={**os.environ})

    empty = cli("--reports-dir", str(tmp_path))
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1 and empty.stderr.startswith("error: no run kept")
    reports_dir = kept(scratch, 1)
    made = cli("--reports-dir", str(reports_dir))
    assert made.returncode == 0, made.stderr
    assert "one self-contained file to attach" in made.stdout
    adhoc = cli("--results", str(reports_dir / "allure-results"), "--output", str(tmp_path / "adhoc.html"))
    assert adhoc.returncode == 0, adhoc.stderr
    assert (tmp_path / "adhoc.html").stat().st_size > 100_000


class _HeldBackPage(http.server.BaseHTTPRequestHandler):
    """Serves one page in two parts, the second only once ``release`` is set: a browser that has parsed the first
    part and not yet the second, as a loaded machine parsing a large report does."""

    first: bytes
    rest: bytes
    release: threading.Event
    asked: list[str]

    def do_GET(self):
        self.asked.append(self.path)
        if self.path != "/report.html":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(self.first)
        self.wfile.flush()
        if self.release.wait(60):
            self.wfile.write(self.rest)

    def log_message(self, *args):
        pass


def test_the_report_reads_its_embedded_data_even_when_the_app_starts_before_the_data_is_parsed(scratch, allure,
                                                                                             playwright):
    # Allure 3.18 declares the data store after the app's script; an app that starts first fetched
    # widgets/tree-filters.json from beside the file (refused from file://) and the results tree stayed empty
    reports_dir = kept(scratch, 1)
    (html,) = report.render_pending(reports_dir, allure=allure)
    page_bytes = html.read_bytes()
    app = page_bytes.index(b'<script   src="data:text/javascript;base64,')
    cut = page_bytes.index(b"</script>", app) + len(b"</script>")  # the app, and nothing of the data after it
    assert b"allureReportData" not in page_bytes[cut:cut + 200]  # (the data comes later: the cut is real)
    handler = type("Handler", (_HeldBackPage,), {"first": page_bytes[:cut], "rest": page_bytes[cut:],
                                                 "release": threading.Event(), "asked": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = playwright.chromium.launch(executable_path=chromium_executable(), args=["--disable-gpu"])
    try:
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            (f"http://127.0.0.1:{server.server_address[1]}/", "data:")) else route.abort())
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/report.html", wait_until="commit")
        # the app has rendered and run its effects (the first removes the loader; the data reads are beside it)
        page.wait_for_selector("#allure-app-loader", state="detached", timeout=30_000)
        handler.release.set()
        expect(page.get_by_text("test_fresh", exact=True).first).to_be_visible(timeout=30_000)
    finally:
        handler.release.set()
        browser.close()
        server.shutdown()
        server.server_close()
    assert handler.asked == ["/report.html"]  # every read came from the page itself, none from beside it


def test_the_data_store_is_declared_once_and_only_in_the_shape_it_was_made_for():
    made = ('<div id="app"></div>\n    <script   src="data:text/javascript;base64,QQ=="></script>\n'
            '<script async>\n      window.allureReportData = window.allureReportData || {};\n</script>')
    fixed = report.data_store_first(made)
    assert fixed.index("window.allureReportDataReady = false") < fixed.index('src="data:text/javascript')
    assert report.data_store_first(fixed) == fixed
    assert report.data_store_first("<html><script src='app.js'></script></html>") == \
        "<html><script src='app.js'></script></html>"  # another Allure's page: left as it is


def test_pruning_keeps_the_newest_and_every_run_an_incident_links_to(tmp_path):
    verdict = {"started_at": "2026-03-14T02:00:00+00:00", "severity": "OK"}
    names = [report.archive_run(tmp_path, Verdict.from_dict({**verdict, "started_at": f"2026-03-14T02:0{n}:00+00:00"}),
                                None).name for n in range(5)]
    log = tmp_path / "incident-20260314-0200.log"
    log.write_text(f"Sat Mar 14 02:00:00 UTC 2026: Investigation findings: VERDICT: OK - report: "
                   f"../reports/runs/{names[1]}/report.html\n")
    removed = report.prune_runs(tmp_path, 2, report.linked_runs([log]))
    assert [r.name for r in removed] == [names[0], names[2]]
    assert [r.name for r in report.runs(tmp_path)] == [names[1], names[3], names[4]]
