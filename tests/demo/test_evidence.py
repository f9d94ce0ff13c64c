"""What the suite leaves for the post-mortem, against the demo stack: no secret in any of it whatever the fault,
a single-file report that a real browser renders with the run's failed checks, and the incident lifecycle
from the command line with real runs in between."""

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from fixtures.demo.faults import FAULTS
from fixtures.demo.flavours import DEFAULT
from fixtures.demo.logs import PINO_ERROR, ingestion_line, pino_line
from scenescout_ir.incident import log as incident
from scenescout_ir.judge.verdict import Verdict
from scenescout_ir.pytest_plugin.browser_fixtures import chromium_executable
from scenescout_ir.reporting import report
from tests.demo_support import ROOT, run_suite, targets_file
from tests.servers import WebhookReceiver

pytestmark = pytest.mark.timeout(900)

API_KEY = "sk_live_evidence_4f9a2c7e1b"  # a secret_env value: known to the redactor by value only
TM_KEY = "tm_evidence_8d3e5f7a9b"  # a source's api_key_env: sent to its upstream API by the checks
ALL_CHECKS = "comprehensive or performance"  # comprehensive includes every emergency check

# Faults that can be on together share a run; the ones that take a component away run alone, or with the
# other component's (the database checks connect to PostgreSQL themselves, not through the app, so each
# component's evidence is still made). A fault added to the demo stack later and not listed here runs alone
# too, so every fault is always covered.
BATCHES: list[list[tuple[str, dict]]] = [
    [("app_down", {}), ("db_stopped", {})],
    [("app_hanging", {}), ("db_hanging", {})],
    [("api_5xx", {})],
    [("slow_responses", {"seconds": 0.5})],
    [("all_sources_stale", {}), ("stuck_transaction", {}), ("blocking_lock", {})],
    [("deadlock", {}), ("source_stale", {}), ("log_error_burst", {}), ("script_broken", {}), ("route_500", {}),
     ("broken_image", {}), ("upstream_429", {}), ("upstream_hanging", {"source": "eventbrite"}),
     ("source_disabled", {}), ("events_deleted", {}), ("slow_query", {}), ("index_missing", {})],
    # connection_saturation fills 85% of the slots: not beside the faults that hold sessions of their own
    [("job_failing", {"source": "songkick"}), ("job_flaky", {"source": "meetup"}), ("events_duplicated", {}),
     ("table_corrupted", {}), ("connection_saturation", {})],
]


def batches() -> list[list[tuple[str, dict]]]:
    """The default flavour's faults (the prod flavour's provider faults have their own sweep: tests/demo/
    test_provider.py, the Supabase token never shown)."""
    listed = [[(f, p) for f, p in batch if f in DEFAULT.faults] for batch in BATCHES]
    named = {f for batch in BATCHES for f, _ in batch}
    return [b for b in listed if b] + [[(f, {})] for f in FAULTS if f not in named and f in DEFAULT.faults]


@pytest.fixture
def webhook():
    hook = WebhookReceiver(token="evidence-webhook-token")
    yield hook
    hook.close()


@pytest.fixture
def here(workdir):
    """This test's own reports and incidents dirs (run_suite writes next to workdir/verdict.json)."""
    return Path(tempfile.mkdtemp(prefix="evidence-", dir=workdir))


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "scenescout_ir", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=300)


def leak_secrets_into_the_logs(stack, password):
    """What a careless app logs when it fails: its DSN and its keys, in the shapes they really take."""
    info = stack.info()
    dsn = info.dsn
    app = [pino_line(PINO_ERROR, f"db pool error: could not connect to {dsn}"),
           pino_line(PINO_ERROR, f"auth: API key {API_KEY} was rejected"),
           pino_line(PINO_ERROR, f"retrying with password {password}")]
    ingest = [ingestion_line("ERROR", "ingest_ticketmaster",
                             f"GET /discovery/v2/events.json?apikey={TM_KEY}&size=1 failed: HTTP 401"),
              ingestion_line("ERROR", "ingest_ticketmaster", f"key {TM_KEY} revoked; DSN {dsn}"),
              ingestion_line("ERROR", "ingest_eventbrite", f"Authorization: Bearer {API_KEY}")]
    for path, lines in ((info.app_log, app * 2), (info.ingestion_log, ingest * 2)):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))


def secret_hits(root: Path, secrets: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if zipfile.is_zipfile(path):  # Playwright traces: look inside, they are compressed
            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(name) for name in z.namelist())
        hits += [f"{path.relative_to(root)}: {s[:6]}..." for s in secrets if s.encode() in data]
    return hits


def secret_targets(stack, here):
    """The demo target with a secret_env key and two sources whose vendor API gets a key (in its URL)."""
    upstream = {s: {"upstream_url": f"/upstream/{s}/events", "api_key_env": "EVIDENCE_TM_KEY"}
                for s in ("ticketmaster", "eventbrite")}
    return targets_file(here, stack.info().state_dir, keys={"secret_env": ["EVIDENCE_API_KEY"]},
                        sources=upstream, sections={"performance": {"samples": 2},
                                                    # what it leaves, not how long it waits: a hung page gives up sooner
                                                    "browser": {"navigation_timeout_s": 4}})


def secret_env(here, webhook):
    return {"EVIDENCE_API_KEY": API_KEY, "EVIDENCE_TM_KEY": TM_KEY, "SCENESCOUT_SLACK_WEBHOOK": webhook.url,
            "SCENESCOUT_INCIDENTS_DIR": str(here / "incidents"), "SCENESCOUT_KEEP_RUNS": "100"}


def password_of(stack) -> str:
    return stack.info().dsn.split(":")[2].split("@")[0]


# one test per batch, so xdist spreads the batches' comprehensive runs over its workers
@pytest.mark.parametrize("batch", batches(), ids=lambda batch: "+".join(f for f, _ in batch))
def test_no_secret_from_any_fault_reaches_the_run_its_evidence_or_the_webhook(batch, healthy_stack, here, webhook):
    password = password_of(healthy_stack)
    secrets = [password, API_KEY, TM_KEY]
    for fault, params in batch:
        healthy_stack.inject(fault, **params)
    leak_secrets_into_the_logs(healthy_stack, password)
    assert API_KEY in healthy_stack.info().app_log.read_text()  # the secrets are really in what is read
    run = run_suite("-m", ALL_CHECKS, targets=secret_targets(healthy_stack, here), workdir=here,
                    env=secret_env(here, webhook), timeout=600)
    assert run.verdict, f"the run with {batch} wrote no verdict:\n{run.output[-3000:]}"

    assert secret_hits(here, secrets) == []  # the verdict, Allure results, the kept run, browser artifacts
    assert [s for s in secrets for out in [run.output, *webhook.texts] if s in out] == []
    # and the scrubbing really happened: the leaked lines are in the evidence, masked
    results = [p for run_dir in report.runs(here) for p in (run_dir / "allure-results").iterdir()]
    assert any(b"***" in p.read_bytes() and b'class="hit"' in p.read_bytes() for p in results if p.suffix == ".html")
    assert len(webhook.texts) == (1 if run.severity in ("SEV1", "SEV2") else 0)  # a SEV1/SEV2 run notifies


def test_no_secret_reaches_the_incident_log_the_postmortem_or_the_report(healthy_stack, here, webhook):
    password = password_of(healthy_stack)
    secrets = [password, API_KEY, TM_KEY]
    env = secret_env(here, webhook)
    targets = secret_targets(healthy_stack, here)
    pm_env = {**env, "SCENESCOUT_TARGETS_FILE": str(targets)}
    started = cli("incident", "start", f"logins fail; DSN {healthy_stack.info().dsn} key {API_KEY}", env=pm_env)
    assert started.returncode == 0, started.stderr
    healthy_stack.inject("api_5xx")
    leak_secrets_into_the_logs(healthy_stack, password)
    run = run_suite("-m", ALL_CHECKS, targets=targets, workdir=here, env=env, timeout=600)
    assert run.severity in ("SEV1", "SEV2"), run.output  # a run that notifies
    cli("incident", "note", f"rotated the DB password {password}", env=pm_env)
    resolved = cli("incident", "resolve", "--resolution", f"new key {API_KEY} deployed", "--root-cause",
                   "leaked key", "--impact", "none", "--next-steps", "vault", env=pm_env)
    assert resolved.returncode == 0, resolved.stderr
    drafted = cli("incident", "postmortem", env=pm_env)
    assert drafted.returncode == 0, drafted.stderr
    rendered = cli("report", "--reports-dir", str(here), env=pm_env)
    assert rendered.returncode == 0, rendered.stderr

    assert secret_hits(here, secrets) == []  # incident log, post-mortem draft, HTML reports, kept run
    outputs = [run.output, *webhook.texts, started.stdout, resolved.stdout, drafted.stdout, rendered.stdout]
    assert [s for s in secrets for out in outputs if s in out] == []
    # and the scrubbing really happened, in each kind of output
    (log,) = incident.logs(here / "incidents")
    assert "DSN postgresql://oncall:***@" in log.read_text() and "Mitigation attempted: rotated the DB password ***" \
        in log.read_text()
    assert any("***" in text for text in webhook.texts) and len(webhook.texts) == 3  # start, the run, resolve
    results = [p for run_dir in report.runs(here) for p in (run_dir / "allure-results").iterdir()]
    assert any(b"apikey=***" in p.read_bytes() for p in results if p.suffix == ".txt")
    assert len(report.runs(here)) == 1 and (report.runs(here)[0] / "report.html").is_file()


def test_the_single_file_report_renders_in_chromium_with_the_failed_checks(healthy_stack, here, demo_targets,
                                                                          playwright):
    from playwright.sync_api import expect

    healthy_stack.inject("api_5xx")
    healthy_stack.inject("source_stale", source="songkick")
    run = run_suite(targets=demo_targets, workdir=here)
    assert run.severity == "SEV2", run.output
    failed = sorted({f["check"] for f in run.findings() if not f["check"].startswith("all of ")})
    assert "test_health_endpoint[/api/health]" in failed and "test_ingestion_freshness[songkick]" in failed
    made = cli("report", "--reports-dir", str(here), env={})
    assert made.returncode == 0, made.stderr
    single = here / "report.html"
    assert [p.name for p in here.iterdir() if p.suffix == ".html"] == ["report.html"]

    # pytest-playwright's session-wide Playwright: a second sync_playwright() in this process would fail
    browser = playwright.chromium.launch(executable_path=chromium_executable(), args=["--disable-gpu"])
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        outside = []
        # one self-contained file: nothing but the file itself is needed (its analytics script may try)
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:",
                   "blob:")) else (outside.append(route.request.url), route.abort()))
        page.goto(single.as_uri())
        expect(page.get_by_text(run.verdict["findings"][0]["severity"] + " - High - respond within 30 minutes",
                                exact=False).first).to_be_visible(timeout=30_000)
        for check in failed:
            expect(page.get_by_text(check, exact=True).first).to_be_visible()
        page.get_by_text("test_health_endpoint[/api/health]", exact=True).first.click()
        expect(page.get_by_text("Category: SEV2 - High (respond: 30 minutes)")).to_be_visible()
        expect(page.get_by_text("Playbook: Incident Classification / Severity 2")).to_be_visible()
        expect(page.get_by_text("HTTP: GET /api/health -> 500", exact=False).first).to_be_visible()
        page.screenshot(path=str(here / "report-screenshot.png"), full_page=True)
    finally:
        browser.close()
    assert all("googletagmanager" in url or "analytics" in url for url in outside), outside


def test_the_incident_lifecycle_from_the_command_line_with_real_runs(healthy_stack, here, demo_targets):
    env = {"SCENESCOUT_INCIDENTS_DIR": str(here / "incidents"), "SCENESCOUT_SLACK_WEBHOOK": ""}
    assert cli("incident", "start", "database unreachable for the app", env=env).returncode == 0
    assert incident.open_incident_start(here / "incidents") is not None
    healthy_stack.inject("db_stopped")
    failing = run_suite(targets=demo_targets, workdir=here, env=env)
    assert failing.severity == "SEV2"
    assert "findings appended to the open incident" in failing.output
    assert cli("incident", "note", "started postgres again", env=env).returncode == 0
    healthy_stack.clear()
    healthy = run_suite(targets=demo_targets, workdir=here, env=env)
    assert healthy.severity == "OK"
    assert cli("incident", "resolve", "--resolution", "postgres restarted", "--root-cause", "postgres stopped",
               "--impact", "no events shown for 2 min", "--next-steps", "restart policy", env=env).returncode == 0
    drafted = cli("incident", "postmortem", env=env)
    assert drafted.returncode == 0, drafted.stderr

    (log,) = incident.logs(here / "incidents")
    parsed = incident.parse(log)
    kinds = [e.kind for e in parsed.events]
    assert kinds[0] == "start" and kinds[-1] == "resolved" and kinds.count("mitigation") == 1
    assert kinds.index("mitigation") < len(kinds) - 2 and kinds[-2] == "findings"  # the OK run came after it
    runs = parsed.runs()
    assert [r.severity for r in runs] == ["SEV2", "OK"]
    assert any("Database connection problems" in line for line in runs[0].lines)
    draft = (here / "incidents" / f"{log.stem}-postmortem.md").read_text()
    assert "| Worst severity seen | SEV2 - High - respond within 30 minutes |" in draft
    assert "Response: first mitigation attempted" in draft and "Fix verified" in draft
    for entry in runs:  # every run's report was rendered for the draft, and its link works from there
        target = (log.parent / entry.report).resolve()
        assert target.is_file() and f"[report]({entry.report})" in draft
        kept = json.loads((target.parent / "verdict.json").read_text())
        assert kept["severity"] == entry.severity
        assert Verdict.from_dict(kept).to_dict() == kept  # a kept verdict reads back as the same typed Verdict
