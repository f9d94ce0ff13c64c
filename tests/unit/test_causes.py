"""Probable cause: the failing component that explains the others, from the graph and the evidence."""

import pytest

from scenescout_ir.core.conditions import CONDITIONS, Severity
from scenescout_ir.judge.causes import component_of, database_reported_up, probable_causes, weigh_evidence
from scenescout_ir.judge.verdict import CheckRecord, FindingRecord, assemble


def finding(check, key, summary="", severity=None):
    cond = CONDITIONS[key]
    return FindingRecord(check=check, component=cond.component, condition=cond.name,
                         severity=severity or cond.severity, summary=summary or f"{check} failed",
                         next_step=cond.next_step, section=cond.section, condition_key=key)


def test_findings_are_placed_on_components():
    assert component_of(finding("test_health_endpoint[/api/health]", "partial_outage")) == "api"
    assert component_of(finding("test_health_endpoint[/health]", "partial_outage")) == "site"
    assert component_of(finding("test_ingestion_freshness[meetup]", "source_stale")) == "freshness:meetup"
    assert component_of(finding("test_upstream_api[eventbrite]", "upstream_rate_limited")) == "vendor:eventbrite"
    assert component_of(finding("all of user_facing", "complete_outage")) == "site"
    assert component_of(finding("test_database_connectivity", "database_connection")) == "database"


def test_a_hung_database_is_the_cause_and_the_api_its_symptom():
    causes = probable_causes([
        finding("test_database_connectivity", "database_connection", "DATABASE DOWN: no answer within 5 s"),
        finding("test_health_endpoint[/api/health]", "partial_outage", "/api/health is failing (database=down)"),
        finding("test_recent_log_errors[application.log]", "log_errors"),
    ])
    assert [c.component for c in causes] == ["database"]
    assert causes[0].symptoms == ["test_health_endpoint[/api/health]", "test_recent_log_errors[application.log]"]
    assert causes[0].finding.startswith("DATABASE DOWN")


def test_a_health_body_saying_database_down_points_at_the_database_the_suite_could_not_see():
    causes = probable_causes([
        finding("test_health_endpoint[/api/health]", "partial_outage", "/api/health is failing: 503 (database=down)"),
    ])
    assert causes[0].component == "database" and causes[0].inferred
    assert causes[0].symptoms == ["test_health_endpoint[/api/health]"]
    assert "database=down" in causes[0].finding


def test_a_site_that_is_down_explains_every_page_and_health_finding():
    causes = probable_causes([
        finding("test_site_reachable", "partial_outage", "SITE DOWN: connection refused"),
        finding("test_health_endpoint[/health]", "partial_outage"),
        finding("test_health_endpoint[/api/health]", "partial_outage"),
        finding("all of user_facing", "complete_outage"),
        finding("test_page_renders_events[/]", "home_no_events"),
    ])
    assert [c.component for c in causes] == ["site"]
    assert causes[0].severity.name == "SEV1"  # the complete outage leads the site's own findings
    assert "test_page_renders_events[/]" in causes[0].symptoms and "test_site_reachable" in causes[0].symptoms


def test_a_429_in_a_jobs_error_points_at_the_vendors_rate_limit():
    causes = probable_causes([
        finding("test_latest_job_runs[eventbrite]", "job_failed", "ingest_eventbrite failed its last 3 runs: "
                "HTTP 429 Too Many Requests"),
        finding("test_ingestion_freshness[eventbrite]", "source_stale"),
    ])
    assert [(c.component, c.condition) for c in causes] == [("vendor:eventbrite", "Single API source failure")]
    assert "rate-limiting" in causes[0].finding
    assert causes[0].symptoms == ["test_ingestion_freshness[eventbrite]", "test_latest_job_runs[eventbrite]"]


def test_a_failing_job_with_fresh_events_points_at_the_job_not_the_vendor():
    causes = probable_causes(
        [finding("test_latest_job_runs[meetup]", "job_failed", "ingest_meetup failed: KeyError 'venue'")],
        passed=["test_ingestion_freshness[meetup]"],
    )
    assert causes[0].component == "job:meetup" and "post-processing" in causes[0].finding


def test_independent_causes_are_listed_apart_worst_first():
    causes = probable_causes([
        finding("test_disk_space", "disk_space"),
        finding("test_ingestion_freshness[meetup]", "source_stale"),
    ])
    assert [c.component for c in causes] == ["freshness:meetup", "host"]


def test_the_graph_can_be_overridden():
    findings = [finding("test_health_endpoint[/api/health]", "partial_outage", "/api/health is failing: 500"),
                finding("test_disk_space", "disk_space")]
    assert {c.component for c in probable_causes(findings)} == {"api", "host"}
    causes = probable_causes(findings, {"api": ["host"]})
    assert [c.component for c in causes] == ["host"] and causes[0].symptoms == ["test_health_endpoint[/api/health]"]


# --- evidence against evidence: a DATABASE DOWN the app's own health contradicts ------------------------------


def http_evidence(body, status=200, url="http://app:8080/api/health"):
    text = f"GET {url}\n-> {status} in 0.010 s (first byte 0.010 s)\ncontent-type: application/json\n\n{body}"
    return {"kind": "http", "title": f"GET {url} -> {status}", "text": text, "data": {"url": url, "status": status}}


def connection_evidence(error, phase="tcp", blind=False):
    return {"kind": "database", "title": "connection", "text": "...",
            "data": {"endpoint": "oncall@10.0.0.5:5433/scenescout", "ok": False, "phase": phase, "error": error,
                     "blind": blind}}


REFUSED = 'connection failed: connection to server at "10.0.0.5", port 5433 failed: Connection refused'


def run_with(health_body, error=REFUSED, status=200):
    return [
        CheckRecord("checks/test_database.py::test_database_connectivity", "test_database_connectivity", "failed",
                    "database_connection", f"DATABASE DOWN: nothing listens ({error})",
                    evidence=[connection_evidence(error)]),
        CheckRecord("checks/test_site.py::test_health_endpoint[/api/health]", "test_health_endpoint[/api/health]",
                    "passed" if status == 200 else "failed", "partial_outage", "",
                    evidence=[http_evidence(health_body, status)]),
    ]


def test_a_refused_port_while_the_apps_health_says_its_database_is_up_is_the_suites_dsn():
    v = assemble(run_with('{"status": "ok", "database": "up"}'), target="t", base_url="b", started_at="a",
                 finished_at="b", duration_s=1.0)
    (finding,) = v.findings
    assert v.severity == Severity.SEV4 and finding.condition == "Minor configuration issues"
    assert finding.summary == (
        "the app's /api/health reports its database up (test_health_endpoint[/api/health] passed), but the suite "
        "cannot reach the database at 10.0.0.5:5433 (Connection refused; tcp phase): the suite's DSN "
        "(10.0.0.5:5433) is the likely cause, not the database")
    assert finding.evidence[0]["data"]["phase"] == "tcp"  # the suite's own attempt stays its evidence
    assert v.probable_causes[0]["component"] == "suite DSN"


@pytest.mark.parametrize(
    ("body", "error", "status"),
    [
        ('{"status": "degraded", "database": "down"}', REFUSED, 503),  # the app agrees: the database is down
        ('{"status": "ok"}', REFUSED, 200),  # the app says nothing of its database
        ('{"status": "ok", "database": "up"}', "FATAL:  sorry, too many clients already", 200),  # the server said so
        ('{"status": "ok", "database": "up"}', "FATAL:  the database system is shutting down", 200),
    ],
)
def test_without_the_apps_word_or_with_the_servers_own_a_database_finding_stays_sev2(body, error, status):
    records = run_with(body, error, status)
    findings = weigh_evidence([f for f in assemble(records, target="t", base_url="b", started_at="a",
                                                   finished_at="b", duration_s=1.0).findings], records)
    database = [f for f in findings if f.check == "test_database_connectivity"]
    assert database[0].severity == Severity.SEV2 and database[0].condition_key == "database_connection"


@pytest.mark.parametrize(
    ("body", "up"),
    [
        ({"database": "up"}, True), ({"db": "OK"}, True), ({"postgres": True}, True),
        ({"database": {"status": "healthy"}}, True), ({"checks": {"database": "connected"}}, True),
        ({"database": "down"}, False), ({"status": "ok"}, False), ({"database": {"latency_ms": 3}}, False),
        ({"a": {"b": {"database": "up"}}}, False), ("up", False), (None, False),
    ],
)
def test_a_health_body_naming_its_database_up(body, up):
    assert database_reported_up(body) is up


def test_a_cut_short_health_body_still_names_its_database_up():
    records = run_with('{"status": "ok", "database": "up", "version": "' + "x" * 1500 + '...')
    findings = weigh_evidence(assemble(records, target="t", base_url="b", started_at="a", finished_at="b",
                                       duration_s=1.0).findings, records)
    assert findings[0].condition_key == "database_unreachable_app_up"


@pytest.mark.parametrize(("error", "phase"), [("connection timeout expired", "startup"),
                                            ("server closed the connection unexpectedly", "startup"),
                                            ("no answer within 7 s (first query)", "first query")])
def test_a_database_that_accepts_the_connection_then_fails_it_stays_sev2_whatever_the_app_says(error, phase):
    """The port accepted the suite's TCP connection and the server behind it then hung or dropped it (the startup
    phase): the database or its pooler failing new connections while the app's open ones still work
    (connection exhaustion), not a DSN pointing nowhere. The app's 'database up' does not make it SEV4."""
    records = run_with('{"status": "ok", "database": "up"}', error)
    records[0] = CheckRecord(records[0].nodeid, records[0].check, "failed", "database_connection",
                             f"DATABASE DOWN: ({error})", evidence=[connection_evidence(error, phase=phase)])
    v = assemble(records, target="t", base_url="b", started_at="a", finished_at="b", duration_s=1.0)
    (finding,) = v.findings
    assert v.severity == Severity.SEV2 and finding.condition_key == "database_connection", finding
