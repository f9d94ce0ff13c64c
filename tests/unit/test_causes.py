"""Probable cause: the failing component that explains the others, from the graph and the evidence."""

from scenescout_ir.causes import component_of, probable_causes
from scenescout_ir.conditions import CONDITIONS
from scenescout_ir.verdict import FindingRecord


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
