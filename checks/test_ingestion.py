"""Application-Specific Checks: "Check event ingestion status", and each source's latest job runs and ingestion
log lines (Scenario 3), one check per configured source."""

import pytest

from scenescout_ir.core.outcomes import Finding
from scenescout_ir.judge.jobs import recent_job_runs, when

pytestmark = pytest.mark.emergency

@pytest.mark.playbook("EXTRACT(EPOCH FROM (NOW() - MAX(created_at)))/60 as minutes_since_last")
@pytest.mark.condition("source_stale")
def test_ingestion_freshness(db, target, source):
    """SELECT source, MAX(created_at), minutes_since_last FROM events GROUP BY source"""
    events = target.events
    rows = db.query(
        "ingestion_freshness", {"source": source.name},
        table=events.table, source_column=events.source_column, timestamp_column=events.timestamp_column,
    ).records()
    assert rows, f"{source.name}: no events at all in {events.table}"
    age = float(rows[0]["age_s"])
    assert age <= source.max_age_s, (
        f"{source.name}: newest event is {age / 60:.1f} min old, at {rows[0]['last_event_time']:%Y-%m-%d %H:%M:%S %Z} "
        f"(limit: {source.max_age_s / 60:g} min)"
    )


@pytest.mark.playbook(
    "supabase functions logs ingest_ticketmaster --limit 50",
    "supabase functions logs ingest_eventbrite --limit 50",
)
@pytest.mark.condition("source_jobs_failing")
def test_ingestion_job_runs(db, target, source, ingestion_log_tail):
    """supabase functions logs ingest_<source> --limit 50 ; tail -100 logs/ingestion.log | grep -i error:
    a source whose last N runs all failed is failing now, even while its events are still fresh."""
    history = recent_job_runs(db, target, source)
    tail = ingestion_log_tail(source)  # its latest lines naming the source, as evidence
    if not history.failed:
        return
    error = history.latest_error() or (tail.latest_error() if tail else "") or (
        f"no error text in {target.integrity.job_runs_table} or the ingestion log"
    )
    latest = history.failed[0]
    if history.all_failed:
        raise Finding(
            "source_jobs_failing",
            f"{history.job} failed its last {len(history.runs)} runs (latest {when(latest.started_at)}, "
            f"status {latest.status!r}): {error}",
        )
    raise Finding(
        "ingestion_job_failing",
        f"{history.job} is failing intermittently: {len(history.failed)} of its last {len(history.runs)} runs "
        f"failed (latest failure {when(latest.started_at)}, status {latest.status!r}): {error}",
    )
