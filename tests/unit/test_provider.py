"""The Supabase provider layer: the judgement (scenescout_ir/judge/provider.py) on answers shaped as Supabase documents
them, and the probe (scenescout_ir/probes/supabase.py) against the demo's stand-in served by a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from fixtures.demo import supabase_api
from scenescout_ir.core.conditions import CONDITIONS
from scenescout_ir.core.config import Supabase, Timeouts, load_target
from scenescout_ir.core.outcomes import Blind, ConfigError, CouldNotRun
from scenescout_ir.core.redact import Redactor
from scenescout_ir.judge import provider
from scenescout_ir.judge.causes import probable_causes
from scenescout_ir.judge.verdict import CheckRecord, assemble
from scenescout_ir.probes.http import HttpResult
from scenescout_ir.probes.supabase import ApiAnswer, SupabaseProbe

FAST = Timeouts(connect_s=1.0, read_s=1.0, statement_s=1.0, dns_s=1.0)
TOKEN = "sbp_0123456789abcdef0123456789abcdef01234567"
REF = "abcdefghijklmnopqrst"


def target(tmp_path: Path, supabase: str = "", sources: str = "meetup = {}\nsongkick = {}") -> Any:
    path = tmp_path / "targets.toml"
    path.write_text(f'[targets.t]\nbase_url = "http://127.0.0.1:1"\n[targets.t.sources]\n{sources}\n'
                    f'[targets.t.supabase]\nproject_ref = "{REF}"\n{supabase}\n')
    return load_target(path, "t")


def answer(status: int | None, body: Any = None, what: str = "project", headers: dict[str, str] | None = None,
           error: str | None = None) -> ApiAnswer:
    text = body if isinstance(body, str) else json.dumps(body)
    return ApiAnswer(what, HttpResult("GET", f"https://api.supabase.com/v1/projects/{REF}", status, 0.05,
                                      headers=headers or {}, body=text if status else "", error=error))


# --- configuration -------------------------------------------------------------------------------------------


def test_the_supabase_table_is_read_with_its_defaults_and_the_token_is_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", TOKEN)
    t = target(tmp_path)
    assert t.supabase.project_ref == REF and t.supabase.token_env == "SUPABASE_ACCESS_TOKEN"
    assert t.supabase.api_url == "https://api.supabase.com" and t.supabase.status_url.endswith("summary.json")
    assert provider.expected_functions(t) == {"meetup": "ingest_meetup", "songkick": "ingest_songkick"}
    assert TOKEN in t.secrets() and TOKEN not in Redactor(t.secrets())(f"Authorization: Bearer {TOKEN} {TOKEN}")


def test_configured_functions_keep_their_source_as_the_check_id(tmp_path):
    t = target(tmp_path, 'functions = ["sync-meetup-events", "nightly_cleanup"]')
    assert provider.expected_functions(t) == {"meetup": "sync-meetup-events", "nightly_cleanup": "nightly_cleanup"}


def test_an_unknown_supabase_key_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="projectref"):
        target(tmp_path, 'projectref = "x"')


# --- the provider API's own failures are the suite's ------------------------------------------------------------


def test_a_refused_token_is_blind_and_names_the_variable(tmp_path):
    t = target(tmp_path)
    for status in (401, 403):
        with pytest.raises(Blind) as exc:
            provider.usable(answer(status, {"message": "Unauthorized"}), t)
        assert exc.value.component == "supabase" and "SUPABASE_ACCESS_TOKEN" in str(exc.value)
        assert "Unauthorized" in str(exc.value) and "not an incident" in str(exc.value)


def test_an_unknown_project_is_blind_and_names_the_key(tmp_path):
    with pytest.raises(Blind, match=r"targets\.t\.supabase\.project_ref"):
        provider.usable(answer(404, {"message": "Project not found"}), target(tmp_path))


def test_the_apis_own_429_and_5xx_and_silence_are_could_not_run_named(tmp_path):
    t = target(tmp_path)
    with pytest.raises(CouldNotRun, match=r"rate-limits the suite .*429.*Retry-After: 60 s"):
        provider.usable(answer(429, {"message": "Too many requests"}, headers={"Retry-After": "60"}), t)
    with pytest.raises(CouldNotRun, match=r"failed .*503.*provider API's own error"):
        provider.usable(answer(503, {"message": "upstream"}), t)
    with pytest.raises(CouldNotRun, match="did not answer"):
        provider.usable(answer(None, error="no answer within 1 s (read timeout)"), t)
    with pytest.raises(CouldNotRun, match="not JSON"):
        provider.usable(answer(200, "<html>maintenance</html>"), t)


# --- project, services, functions -----------------------------------------------------------------------------


def test_a_project_that_is_not_active_healthy_is_a_problem_with_its_next_step():
    base = {"ref": REF, "name": "scenescout", "region": "eu-central-1", "status": "ACTIVE_HEALTHY"}
    assert provider.project_problem(base) is None
    paused = provider.project_problem({**base, "status": "INACTIVE"})
    assert paused and "INACTIVE" in paused and "paused" in paused and "restore" in paused.lower()
    for status in ("COMING_UP", "RESTORING", "RESTORE_FAILED", "SOMETHING_NEW"):
        assert status in (provider.project_problem({**base, "status": status}) or "")
    with pytest.raises(CouldNotRun, match="unexpected shape"):
        provider.project_problem(["not", "a", "project"])


def test_services_read_status_and_fall_back_on_the_deprecated_healthy():
    found = provider.services([
        {"name": "db", "healthy": True, "status": "ACTIVE_HEALTHY"},
        {"name": "rest", "healthy": False, "status": "UNHEALTHY", "error": "connect error"},
        {"name": "auth", "healthy": False},
        "garbage",
    ])
    assert [(s.name, s.healthy) for s in found] == [("db", True), ("rest", False), ("auth", False)]
    assert found[1].describe() == "rest UNHEALTHY (connect error)"


def test_a_missing_removed_or_throttled_function_is_named():
    functions = [{"id": "1", "slug": "ingest_meetup", "status": "ACTIVE", "version": 3},
                 {"id": "2", "slug": "ingest_songkick", "status": "REMOVED", "version": 5},
                 {"id": "3", "slug": "ingest_eventbrite", "status": "THROTTLED", "version": 1}]
    assert provider.function_problem(functions, "ingest_meetup") is None
    assert "ingest_songkick is REMOVED" in (provider.function_problem(functions, "ingest_songkick") or "")
    assert "THROTTLED" in (provider.function_problem(functions, "ingest_eventbrite") or "")
    missing = provider.function_problem(functions, "ingest_ticketmaster") or ""
    assert "ingest_ticketmaster is not deployed" in missing and "ingest_meetup" in missing


def test_function_errors_are_counted_by_masked_message_newest_first():
    ids = {"f-1": "ingest_meetup", "f-2": "ingest_songkick"}
    rows = [
        {"timestamp": "2026-12-02 21:14:03.000000", "function_id": "f-1", "severity_text": "error",
         "event_message": "FetchError: 429 Too Many Requests (request 8f3a9c12)"},
        {"timestamp": 1764710000000000, "function_id": "f-1", "severity_text": "ERROR",
         "event_message": "FetchError: 429 Too Many Requests (request 77b1c0de)"},
        {"timestamp": "2026-12-02 21:12:00", "function_id": "f-1", "severity_text": "info", "event_message": "ok"},
        {"timestamp": "2026-12-02 21:12:00", "function_id": "f-2", "severity_text": "error", "event_message": "x"},
    ]
    seen = provider.function_errors(rows, ids, "ingest_meetup")
    assert seen.lines == 3 and len(seen.errors) == 2
    assert seen.errors[0][0] == "2026-12-02 21:14:03 UTC" and seen.errors[1][0].endswith("UTC")
    assert seen.signatures == [("FetchError: <n> Too Many Requests (request <hex>)", 2)]


def test_a_log_query_error_is_could_not_run():
    assert provider.rows({"result": [{"a": 1}, "junk"], "error": None}) == [{"a": 1}]
    with pytest.raises(CouldNotRun, match='Table "edge_logs" does not exist'):
        provider.rows({"error": 'Table "edge_logs" does not exist.'})
    with pytest.raises(CouldNotRun, match="bad sql"):
        provider.rows({"error": {"code": 400, "message": "bad sql", "errors": []}})


def test_the_5xx_rate_is_per_path_prefix():
    rows = [{"path": "/rest/v1/events", "status_code": 503}, {"path": "/rest/v1/events", "status_code": "200"},
            {"path": "/auth/v1/token", "status_code": 500}, {"path": "/rest/v1/venues", "status_code": None}]
    assert provider.error_rate(rows, "/rest/v1") == (1, 3)
    assert provider.error_rate(rows, "/auth/v1") == (1, 1)


# --- the status page --------------------------------------------------------------------------------------------


def test_the_status_page_speaks_of_the_projects_region_and_of_the_whole_provider_only():
    summary = {
        "status": {"indicator": "major"},
        "components": [{"name": "eu-central-1 (Frankfurt)", "status": "degraded_performance"},
                       {"name": "us-east-1 (North Virginia)", "status": "major_outage"},
                       {"name": "Dashboard", "status": "operational"}],
        "incidents": [
            {"name": "REST errors in eu-central-1", "status": "investigating", "impact": "major", "components": []},
            {"name": "Auth outage in us-east-1", "status": "identified", "impact": "critical", "components": []},
            {"name": "Management API latency", "status": "monitoring", "impact": "minor", "components": []},
            {"name": "Old one in eu-central-1", "status": "resolved", "impact": "minor", "components": []},
        ],
    }
    lines = provider.status_context(summary, "eu-central-1")
    text = "\n".join(lines)
    assert "REST errors in eu-central-1" in text and "Management API latency" in text
    assert "eu-central-1 (Frankfurt) is degraded performance" in text
    assert "us-east-1" not in text and "Old one" not in text
    assert provider.status_context({"components": [], "incidents": []}, "eu-central-1") == []


def test_the_status_page_is_context_of_a_provider_side_cause_never_a_finding():
    status = {"kind": "provider_status", "title": "Supabase status page", "text": "",
              "data": {"lines": ["Supabase status page: incident 'REST errors in eu-central-1'"]}}
    healthy = [CheckRecord("c::test_provider_status_page", "test_provider_status_page", "passed", evidence=[status])]
    verdict = assemble(healthy, target="t", base_url="", started_at="", finished_at="", duration_s=0.1)
    assert verdict.severity is None and verdict.context and "Context: Supabase status page" in "\n".join(
        verdict.lines())
    failing = healthy + [CheckRecord("c::test_provider_services_healthy", "test_provider_services_healthy", "failed",
                                     "provider_service_unhealthy", "rest UNHEALTHY")]
    verdict = assemble(failing, target="t", base_url="", started_at="", finished_at="", duration_s=0.1)
    assert verdict.probable_causes[0]["component"] == "provider"
    assert "meanwhile Supabase status page: incident" in verdict.probable_causes[0]["finding"]


# --- probable cause: the provider, not the app; the function, not the vendor ------------------------------------


@dataclass(frozen=True)
class F:
    check: str
    condition_key: str
    summary: str = ""

    @property
    def condition(self) -> str:
        return CONDITIONS[self.condition_key].name

    @property
    def severity(self) -> Any:
        return CONDITIONS[self.condition_key].severity


def test_a_paused_project_explains_the_api_and_database_findings():
    causes = probable_causes([F("test_provider_project_status", "provider_project_down"),
                              F("test_health_endpoint[https://x.supabase.co/rest/v1/]", "partial_outage"),
                              F("test_database_connectivity", "database_connection")])
    assert [c.component for c in causes] == ["provider"]
    assert set(causes[0].symptoms) == {"test_health_endpoint[https://x.supabase.co/rest/v1/]",
                                       "test_database_connectivity"}


def test_a_removed_function_explains_its_sources_job_and_freshness():
    causes = probable_causes([F("test_ingestion_function[meetup]", "function_missing"),
                              F("test_ingestion_job_runs[meetup]", "source_jobs_failing"),
                              F("test_ingestion_freshness[meetup]", "source_stale")])
    assert causes[0].component == "function:meetup" and len(causes) == 1


def test_advisor_lints_are_low_and_keep_their_remediation():
    lints = provider.lints({"lints": [
        {"name": "unused_index", "level": "INFO", "remediation": "https://x/0005"},
        {"name": "rls_disabled_in_public", "level": "ERROR", "title": "RLS Disabled", "remediation": "https://x/0013"},
        {"name": "unindexed_foreign_keys", "level": "WARN", "remediation": "https://x/0001"},
    ]})
    assert [lint["name"] for lint in lints] == ["rls_disabled_in_public", "unindexed_foreign_keys"]
    assert CONDITIONS["advisor_lints"].severity.name == "SEV4"


# --- the probe against the stand-in, over real HTTP ---------------------------------------------------------------


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    (tmp_path / "stack.json").write_text(json.dumps({"supabase": {
        "ref": REF, "token": TOKEN, "region": "eu-central-1", "url": "", "status_url": ""}}))
    server = make_server("127.0.0.1", 0, supabase_api.create_app(tmp_path), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_port}"
    finally:
        supabase_api.set_mode(tmp_path, None)  # release a hanging request before shutting down
        server.shutdown()


def probe(url: str, token: str = TOKEN, evidence: list[Any] | None = None) -> SupabaseProbe:
    settings = Supabase(project_ref=REF, api_url=url, status_url=f"{url}/api/v2/summary.json")
    record = evidence.append if evidence is not None else (lambda e: None)
    return SupabaseProbe(settings, token, FAST, record, 900.0)


def test_the_probe_reads_every_documented_answer_of_the_stand_in(stand_in, tmp_path):
    _, url = stand_in
    evidence: list[Any] = []
    p = probe(url, evidence=evidence)
    p.prefetch(set(p.requests()))
    t = target(tmp_path, f'api_url = "{url}"')
    assert provider.project_problem(provider.usable(p.ask("project"), t)) is None
    assert all(s.healthy for s in provider.services(provider.usable(p.ask("health"), t)))
    functions = provider.usable(p.ask("functions"), t)
    assert provider.function_problem(functions, "ingest-meetup") is None
    rows = provider.rows(provider.usable(p.ask("function logs"), t))
    seen = provider.function_errors(rows, provider.function_ids(functions), "ingest-meetup")
    assert seen.lines > 0 and not seen.errors
    api = provider.rows(provider.usable(p.ask("API logs"), t))
    assert provider.error_rate(api, "/rest/v1")[1] > 0
    assert provider.lints(provider.usable(p.ask("performance advisors"), t)) == []  # INFO only
    assert provider.status_context(p.ask("status page").data(), "eu-central-1") == []
    assert p.ask("project") is p.ask("project")  # asked once per run
    assert p.requests_made == len(p.requests())
    assert not any(TOKEN in f"{e.title} {e.text} {e.data}" for e in evidence)


def test_the_log_window_is_documented_and_bounded(stand_in):
    _, url = stand_in
    p = probe(url)
    start, end = p.window
    assert end - start == timedelta(minutes=15)
    url_asked = p.requests()["function logs"][0]
    assert "iso_timestamp_start=" in url_asked and "iso_timestamp_end=" in url_asked
    assert "sql=SELECT" in url_asked and "source_name" in url_asked
    wide = SupabaseProbe(Supabase(project_ref=REF, api_url=url), TOKEN, FAST, lambda e: None, 7 * 86400.0)
    assert wide.window[1] - wide.window[0] == timedelta(hours=24)  # the endpoint's widest window


@pytest.mark.slow  # waits out a real read timeout (1 s)
def test_a_hung_management_api_costs_one_read_timeout_for_all_requests_at_once(stand_in, tmp_path):
    state_dir, url = stand_in
    supabase_api.set_mode(state_dir, "hang")
    p = probe(url)
    p.prefetch(set(p.requests()))
    t = target(tmp_path)
    for what in ("project", "health", "functions", "function logs"):
        with pytest.raises(CouldNotRun, match="did not answer"):
            provider.usable(p.ask(what), t)
    assert p.ask("status page").status == 200  # the public status page is not the Management API


def test_the_stand_in_refuses_a_wrong_token_and_rate_limits_in_its_mode(stand_in, tmp_path):
    state_dir, url = stand_in
    t = target(tmp_path)
    with pytest.raises(Blind):
        provider.usable(probe(url, token="sbp_wrong").ask("project"), t)
    supabase_api.set_mode(state_dir, "rate_limited")
    with pytest.raises(CouldNotRun, match="Retry-After: 60"):
        provider.usable(probe(url).ask("functions"), t)


# --- the stand-in's SQL, as the documentation writes it ------------------------------------------------------------


def test_the_stand_in_runs_the_documented_query_shape_and_refuses_a_per_source_table():
    now = datetime.now(UTC)
    rows = [{"id": "1", "timestamp": now, "source_name": "edge_logs", "severity_text": "info",
             "event_message": "GET", "log_attributes": {"request.path": "/rest/v1/events"}},
            {"id": "2", "timestamp": now - timedelta(minutes=1), "source_name": "function_logs",
             "severity_text": "error", "event_message": "boom", "log_attributes": {"function_id": "f"}}]
    out = supabase_api.run_sql("SELECT timestamp, event_message FROM logs WHERE source_name = 'edge_logs' "
                               "ORDER BY timestamp DESC LIMIT 100", rows)
    assert out == [{"timestamp": supabase_api._ch_time(now), "event_message": "GET"}]
    out = supabase_api.run_sql("select log_attributes['function_id'] as fid from logs where source = "
                               "'function_logs'", rows)
    assert out == [{"fid": "f"}]
    with pytest.raises(ValueError, match='Table "edge_logs" does not exist'):
        supabase_api.run_sql("SELECT timestamp FROM edge_logs", rows)


# --- make drill-check on the provider drills without a finding -----------------------------------------------------


@pytest.mark.parametrize(("fault", "verdict", "found"), [
    ("supabase_token_rotated", {"severity": "OK", "findings": [], "blind": [{"component": "supabase"}]}, True),
    ("supabase_token_rotated", {"severity": "OK", "findings": [], "blind": []}, False),
    ("supabase_incident", {"severity": "OK", "findings": [], "context": ["Supabase status page: incident"]}, True),
    ("supabase_incident", {"severity": "OK", "findings": []}, False),
])
def test_drill_check_judges_a_blind_provider_and_a_status_page_incident(tmp_path, fault, verdict, found):
    import time

    from fixtures.demo import drills

    (tmp_path / drills.DRILL_FILE).write_text(json.dumps({"fault": fault, "params": {}, "started_at": time.time() - 5,
                                                          "named": True}))
    (tmp_path / "verdict.json").write_text(json.dumps({**verdict, "finished_at": "2099-01-01T00:00:00+00:00"}))
    ok, text = drills.check(tmp_path, tmp_path / "verdict.json")
    assert ok is found and text.startswith("FOUND" if found else "NOT YET"), text
