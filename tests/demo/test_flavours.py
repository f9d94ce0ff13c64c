"""The shared faults on both demo flavours give the same verdicts.

The default flavour's names match the suite's defaults; the prod flavour is SceneScout as it runs: a static
front end whose data comes from a PostgREST-style data API on another origin, pino logs only (web.log,
ingest.log), scene_events (provider, inserted_at), ingestion_runs (function_name, state 'completed' /
'errored', started). It is configured through targets.toml keys only (fixtures/demo/prod_targets.py).

The expected severities are test_emergency.py's. Faults that do not interact are injected together, one
suite run per batch and flavour (a run's verdict is its worst finding; each fault's own finding is checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fixtures.demo.__main__ import main as demo_main
from tests.demo.test_database_visibility_and_poolers import kept_evidence
from tests.demo_support import SuiteRun, prod_targets_file, prove, run_suite, targets_file, wait_for

# one worker runs this module: the prod-flavour stack starts once, not once per xdist worker (make test: loadgroup)
pytestmark = [pytest.mark.timeout(240), pytest.mark.xdist_group("prod_flavour")]

APP_LOG = {"default": "application.log", "prod": "web.log"}


@dataclass(frozen=True)
class Flavoured:
    """One flavour's running stack and its targets file."""

    name: str
    stack: Any
    targets: Path
    workdir: Path

    def run(self, *args: str, targets: Path | None = None) -> SuiteRun:
        target = ("--target", "prod") if self.name == "prod" else ()
        return run_suite(*args, *target, targets=targets or self.targets, workdir=self.workdir)

    def targets_with(self, **kwargs: Any) -> Path:
        if self.name == "prod":
            return prod_targets_file(self.workdir, self.stack, **kwargs)
        return targets_file(self.workdir, self.stack.info().state_dir, **kwargs)


@pytest.fixture(params=["default", "prod"])
def flavoured(request: pytest.FixtureRequest, workdir: Path) -> Any:
    stack = request.getfixturevalue("demo_stack" if request.param == "default" else "prod_stack")
    flavoured = Flavoured(request.param, stack, Path(), workdir)
    flavoured = Flavoured(request.param, stack, flavoured.targets_with(), workdir)
    yield flavoured
    stack.clear()


def conditions(run: SuiteRun) -> dict[str, str]:
    return {f["check"]: f["condition"] for f in run.findings()}


# --- healthy --------------------------------------------------------------------------------------


def test_a_healthy_stack_gives_ok(flavoured):  # the default flavour's: also in test_emergency.py
    run = flavoured.run()
    assert run.severity == "OK", run.output
    assert run.exit_code == 0
    counts = run.verdict["counts"]
    assert counts["failed"] == counts["could_not_run"] == counts["broken"] == 0, run.output
    assert counts["passed"] >= 15  # database, 4 sources, 2 logs, site, DNS, host, ...


# --- the shared faults, batched ---------------------------------------------------------------------

BATCHES: dict[str, tuple[list[tuple[str, dict[str, Any]]], str, list[tuple[str, str]]]] = {
    "slow-stale-burst-stuck-blocked": (
        [("slow_responses", {"seconds": 2.5}), ("source_stale", {"source": "meetup"}), ("log_error_burst", {}),
         ("stuck_transaction", {}), ("blocking_lock", {})],
        "SEV2",
        [("test_site_reachable", "Minor performance issues"),
         ("test_ingestion_freshness[meetup]", "Single API source failure"),
         ("test_recent_log_errors[{app_log}]", "High error rates in logs"),
         ("test_stuck_transactions", "Single component degradation"),
         ("test_blocking_locks", "Single component degradation")],
    ),
    "saturation-all-sources-stale": (
        [("connection_saturation", {}), ("all_sources_stale", {})],
        "SEV1",
        [("test_connection_saturation", "Database connection problems"),
         ("all of sources", "Major data ingestion failure affecting all sources")],
    ),
    "app-down-db-hanging": (
        [("app_down", {}), ("db_hanging", {})],
        "SEV1",
        [("all of user_facing", "Complete system outage"), ("test_site_reachable", "Partial system outage"),
         ("test_database_connectivity", "Database connection problems")],
    ),
    "db-stopped": (
        [("db_stopped", {})],
        "SEV2",
        [("test_database_connectivity", "Database connection problems")],
    ),
}


@pytest.mark.parametrize("batch", list(BATCHES))
def test_each_shared_fault_gives_its_severity_on_both_flavours(flavoured, batch):
    faults, severity, expected = BATCHES[batch]
    stack = flavoured.stack
    for fault, params in faults:
        stack.inject(fault, **params)
    names = {f for f, _ in faults}
    if "stuck_transaction" in names:  # older than the test threshold (1 s) when the run looks
        wait_for(lambda: stack.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
            " AND now() - state_change > interval '1.5 s'")[0][0] > 0, "an idle transaction older than 1.5 s")
    if "blocking_lock" in names:
        wait_for(lambda: stack.sql(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND now() - waitstart > interval '1.5 s'")[0][0] > 0,
            "a lock wait older than 1.5 s")
    run = flavoured.run()
    assert run.severity == severity, run.output
    found = conditions(run)
    for check, condition in expected:
        check = check.format(app_log=APP_LOG[flavoured.name])
        assert found.get(check) == condition, f"{check}: expected {condition!r}:\n{run.output}"
    assert run.exit_code == 1
    if len(faults) == 1:
        prove(faults[0][0], run, flavoured.name)


def test_the_data_api_answering_500_is_a_partial_outage(flavoured):
    flavoured.stack.inject("api_5xx")
    run = flavoured.run()
    assert run.severity == "SEV2", run.output
    assert "Partial system outage" in conditions(run).values(), run.output
    prove("api_5xx", run, flavoured.name)


LATEST_RUNS_FAILED = {  # the last 3 runs of meetup's job failed, in each flavour's names
    "default": "SELECT bool_and(status = 'failed') AND count(*) = 3 FROM (SELECT status FROM job_runs"
               " WHERE job_name = 'ingest_meetup' ORDER BY started_at DESC, id DESC LIMIT 3) r",
    "prod": "SELECT bool_and(state = 'errored') AND count(*) = 3 FROM (SELECT state FROM ingestion_runs"
            " WHERE function_name = 'ingest-meetup' ORDER BY started DESC, id DESC LIMIT 3) r",
}


def test_a_source_whose_last_runs_failed_is_a_single_source_failure_in_emergency(flavoured):
    flavoured.stack.inject("job_failing", source="meetup")
    wait_for(lambda: flavoured.stack.sql(LATEST_RUNS_FAILED[flavoured.name])[0][0], "meetup's last 3 runs to fail")
    run = flavoured.run()
    assert run.severity == "SEV2", run.output
    meetup = [f for f in run.findings() if "meetup" in f["check"] or "meetup" in f["summary"]]
    assert any(f["condition"] == "Single API source failure" and "429 Too Many Requests" in f["summary"]
               for f in meetup), run.output
    prove("job_failing", run, flavoured.name)


# --- the prod flavour's own shape ---------------------------------------------------------------------


def test_the_prod_flavour_reaches_its_database_through_pgbouncer_with_the_suites_bounds_verified(
    healthy_prod_stack, workdir
):
    """As Supabase runs it: the suite's DSN names the pooler (PgBouncer, transaction mode, its default
    configuration), and the run's evidence shows the connection went through it with the bounds set and read back."""
    pooler_port = healthy_prod_stack.ports()["pooler"]
    assert f"127.0.0.1:{pooler_port}/" in healthy_prod_stack.info().dsn
    here = workdir / "through-the-pooler"
    here.mkdir(exist_ok=True)
    run = run_suite("--target", "prod", targets=prod_targets_file(here, healthy_prod_stack), workdir=here)
    assert run.outcome_of("test_database_connectivity") == "passed", run.output
    assert not run.verdict["warnings"], run.output
    (connection,) = [e for e in kept_evidence(here) if e.startswith("connected to oncall@127.0.0.1:")]
    assert f"127.0.0.1:{pooler_port}/scenescout" in connection
    assert "set per transaction (SET LOCAL) and verified" in connection
    # PgBouncer itself saw the suite, the data API and ingestion as its clients (none refused for `options`)
    pooler_log = (healthy_prod_stack.pooler_dir("pooler") / "pgbouncer.log").read_text()
    assert "unsupported startup parameter" not in pooler_log
    assert {"oncall", "scenescout_app"} <= set(re.findall(r"login attempt: db=scenescout user=(\w+)", pooler_log))


def test_the_prod_front_end_swallowing_api_errors_into_an_empty_state_is_no_events_on_home(
    healthy_prod_stack, workdir
):
    healthy_prod_stack.inject("api_5xx")
    targets = prod_targets_file(workdir, healthy_prod_stack)
    run = run_suite("-m", "comprehensive", "-k", "test_page_renders_events", "--target", "prod", targets=targets,
                    workdir=workdir)
    assert run.severity == "SEV2", run.output
    (home,) = run.findings("test_page_renders_events[/]")
    assert home["condition"] == "Partial system outage"
    assert "0 cards with content ([data-testid=event-card])" in home["summary"]
    assert "No events found" in home["summary"]
    assert "/rest/v1/events" in home["summary"] and "-> 500" in home["summary"]  # the backend's failed request


def test_with_only_the_data_api_down_the_verdict_block_reads_in_lines_and_names_the_data_api(
    healthy_prod_stack, workdir
):
    """SceneScout's real front end: the site answers, its data API (another origin) refuses. Each finding reads in
    a line or two (decoded, shortened URLs, the console's message first, no literal \\n), the probable cause is
    short, and nothing blames the site or points at test_site_reachable (issue 15)."""
    from scenescout_ir.core.summary import LINE

    healthy_prod_stack.stop_api()
    api = urlsplit(healthy_prod_stack.info().api_url)
    targets = prod_targets_file(workdir, healthy_prod_stack)
    run = run_suite("-m", "emergency or comprehensive", "-k", "test_site_reachable or test_health_endpoint or "
                    "test_page_renders_events or test_no_console or test_identify_the_slow_component",
                    "-rA", "--target", "prod", targets=targets, workdir=workdir)
    assert run.severity == "SEV2", run.output
    assert run.outcome_of("test_site_reachable") == "passed"
    assert "PASSED checks/test_site.py::test_site_reachable" in run.output  # the site answered: it is not blamed
    block = run.output[run.output.index("VERDICT:"):]
    lines = [line for line in block.splitlines() if line.startswith("  SEV")]
    assert len(lines) >= 8, run.output
    for line in lines:
        summary = line.split(" - ", 1)[1].rsplit(" (test_", 1)[0]
        assert len(summary) <= LINE, line
        assert "%2C" not in summary and "\\n" not in summary and "http://" not in summary, line
    home = next(line for line in lines if "(test_no_console_or_request_errors[/])" in line)
    assert home.index("console: Error fetching events") < home.index("GET /rest/v1/events?select=id,title,"), home
    (cause,) = [line for line in block.splitlines() if line.startswith("Probable cause")]
    assert len(cause) <= 300, cause
    where = f"the data API at {api.hostname}:{api.port}"
    (health,) = run.findings("test_health_endpoint")
    assert health["summary"].startswith(f"{where} ("), health["summary"]
    (cut,) = [c for c in run.verdict["could_not_run"] if c["check"] == "test_identify_the_slow_component"]
    assert cut["reason"].startswith(f"{where} does not answer (connection refused"), cut["reason"]
    assert "test_site_reachable" not in cut["reason"] and "the site" not in cut["reason"], cut["reason"]
    full = next(f for f in run.findings("test_page_renders_events[/]"))
    assert "%2C" in full["summary"] or "select=id,title,category,starts_at" in full["summary"]  # kept whole


@pytest.fixture(scope="module")
def prod_comprehensive(prod_stack, workdir) -> SuiteRun:
    """One comprehensive run on the healthy prod flavour (a fresh baseline file of its own)."""
    prod_stack.clear()
    baseline = workdir / "baseline-prod-flavour.json"
    baseline.unlink(missing_ok=True)
    targets = prod_targets_file(workdir, prod_stack, sections={"integrity": {"baseline_file": str(baseline)}})
    return run_suite("-m", "comprehensive", "--target", "prod", targets=targets, workdir=workdir, timeout=200)


def test_a_healthy_prod_flavour_passes_every_comprehensive_check_of_its_names(prod_comprehensive):
    run = prod_comprehensive
    findings = run.findings()
    assert not findings, run.output
    assert not run.verdict["could_not_run"], run.output
    assert not run.verdict["broken"], run.output
    assert run.verdict["counts"]["passed"] >= 45, run.output  # the browser, integrity and recovery checks ran


def test_a_healthy_prod_flavour_gives_ok_in_a_comprehensive_run(prod_comprehensive):
    run = prod_comprehensive
    assert run.severity == "OK" and run.exit_code == 0, run.output
    assert run.verdict["counts"]["broken"] == 0, run.output


def test_a_failing_job_gives_the_same_severity_on_both_flavours(demo_stack, prod_stack, workdir):
    runs = {}
    try:
        for name, stack in (("default", demo_stack), ("prod", prod_stack)):
            stack.inject("job_failing", source="meetup")
            flavoured = Flavoured(name, stack, Path(), workdir)
            runs[name] = flavoured.run("-m", "comprehensive", "-k", "test_latest_job_run_succeeded",
                                       targets=flavoured.targets_with())
    finally:
        demo_stack.clear()
        prod_stack.clear()
    default, prod = runs["default"], runs["prod"]
    assert prod.severity == default.severity != "OK", prod.output
    assert conditions(prod) == conditions(default), prod.output
    (finding,) = prod.findings("test_latest_job_run_succeeded[meetup]")
    assert "ingest-meetup" in finding["summary"] and "'errored'" in finding["summary"]


def test_the_prod_flavour_refuses_a_fault_it_has_no_part_for_and_status_names_it(prod_stack, capsys):
    with pytest.raises(ValueError, match="not available in the prod flavour"):
        prod_stack.inject("route_500")
    assert demo_main(["--state-dir", str(prod_stack.state_dir), "status"]) == 0
    out = capsys.readouterr().out
    assert "prod flavour" in out and "api" in out


def test_start_with_the_prod_flavour_writes_a_targets_file_of_its_names(prod_stack, capsys):
    from scenescout_ir.core.config import load_targets

    state_dir = prod_stack.state_dir  # start on a running stack: no restart, the same output and targets file
    assert demo_main(["--state-dir", str(state_dir), "start", "--flavour", "prod"]) == 0
    out = capsys.readouterr().out
    assert "(prod flavour)" in out and "data API:" in out and "--target prod" in out
    target = load_targets(state_dir / "targets.toml")["prod"]
    assert (target.events.table, target.events.source_column) == ("scene_events", "provider")
    assert target.integrity.job_success == "completed"
    assert target.health_endpoints == (f"{prod_stack.info().api_url}/rest/v1/",)  # the data API's, on its origin
    assert target.backend_headers_env == {"apikey": "SCENESCOUT_DEMO_ANON_KEY"}
    assert [p.name for p in target.logs] == ["web.log", "ingest.log"] and all(p.exists() for p in target.logs)
    assert target.backend_origins == (prod_stack.info().api_url,)
    assert target.resolve_base_url() != target.backend_origins[0]  # another origin


def test_the_prod_data_api_speaks_postgrest_and_wants_its_apikey(prod_stack):
    import requests

    info = prod_stack.info()
    key = {"apikey": info.anon_key}
    music = requests.get(f"{info.api_url}/rest/v1/events?select=id,category&category=eq.music&limit=5", headers=key,
                         timeout=10)
    assert music.status_code == 200 and len(music.json()) == 5
    assert {row["category"] for row in music.json()} == {"music"} and set(music.json()[0]) == {"id", "category"}
    missing = requests.get(f"{info.api_url}/rest/v1/events?select=id", timeout=10)
    assert missing.status_code == 401 and missing.json()["message"] == "No API key found in request"
    unknown = requests.get(f"{info.api_url}/rest/v1/events?select=nope", headers=key, timeout=10)
    assert unknown.status_code == 400 and unknown.json()["code"] == "42703"
    preflight = requests.options(f"{info.api_url}/rest/v1/events", timeout=10)
    assert preflight.status_code == 204 and "apikey" in preflight.headers["Access-Control-Allow-Headers"]
    spa = requests.get(f"{info.base_url}/health", timeout=10)  # the SPA fallback: no health endpoint of its own
    assert spa.status_code == 200 and spa.headers["Content-Type"].startswith("text/html")
    assert info.anon_key not in (prod_stack.state_dir / "logs" / "web.log").read_text()
