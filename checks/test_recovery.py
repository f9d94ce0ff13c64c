"""Resolution and Recovery: `node scripts/monitoring/verify-ingestion-recovery.js`, one check per source.

After a mitigation every enabled source must ingest again: new events since the incident began (--since;
default 15 minutes ago), and its latest job run a success. Sources switched off during the mitigation
(api_configurations.enabled = false) are not expected to ingest; they are reported once, as a reminder to
switch them back on.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from scenescout_ir.incident import incidents_dir, open_incident_start
from scenescout_ir.outcomes import CouldNotRun
from scenescout_ir.plugin import suite

pytestmark = pytest.mark.comprehensive

RUNNING = "running"  # a job run still in progress says nothing yet: the finished one before it counts


@pytest.fixture(scope="session")
def since(pytestconfig) -> datetime | None:
    """--since as an aware time (a time without offset is this machine's local time); without it, the open
    incident's start; None: 15 minutes ago."""
    raw = str(pytestconfig.getoption("since") or "").strip()
    if not raw:
        return open_incident_start(incidents_dir(suite(pytestconfig).root))
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CouldNotRun(
            f"--since {raw!r} is not an ISO time like 2026-05-01T14:30 or 2026-05-01T14:30:00+02:00"
        ) from None
    return value if value.tzinfo else value.astimezone()


@pytest.fixture(scope="session")
def source_settings(db, target) -> dict[str, bool] | None:
    """api_configurations' enabled flag per source; None when the deployment has no such table."""
    i = target.integrity
    if not db.query("table_exists", {"table": i.api_configurations_table}).one()["present"]:
        return None
    rows = db.query(
        "api_configurations", table=i.api_configurations_table, source_column=i.api_source_column,
        enabled_column=i.api_enabled_column,
    ).records()
    return {r["source"]: bool(r["enabled"]) for r in rows}


def skip_if_disabled(source, settings, target) -> None:
    if settings and settings.get(source.name) is False:
        pytest.skip(
            f"{source.name} is disabled in {target.integrity.api_configurations_table}: no ingestion expected "
            "(test_no_source_disabled reports it)"
        )


@pytest.mark.condition("ingestion_not_recovered")
def test_ingestion_recovered(db, target, source, source_settings, since):
    """Verify event ingestion resumed: new events of each enabled source since the incident began."""
    skip_if_disabled(source, source_settings, target)
    events = target.events
    row = db.query(
        "ingestion_since", {"source": source.name, "since": since},
        table=events.table, source_column=events.source_column, timestamp_column=events.timestamp_column,
    ).one()
    newest = row["newest"]
    last = f"newest {newest:%Y-%m-%d %H:%M:%S %Z}" if newest else f"none at all in {events.table}"
    assert row["new_events"] > 0, (
        f"{source.name}: no new events since {row['since']:%Y-%m-%d %H:%M:%S %Z} ({last})"
    )


@pytest.mark.condition("job_failed")
def test_latest_job_run_succeeded(db, target, source, source_settings):
    """supabase functions logs ingest_<source>: the latest run of each enabled source's job succeeded."""
    skip_if_disabled(source, source_settings, target)
    i = target.integrity
    job = f"{i.job_prefix}{source.name}"
    runs = db.query(
        "latest_job_run", {"job": job}, table=i.job_runs_table, name_column=i.job_name_column,
        status_column=i.job_status_column, time_column=i.job_time_column,
    ).records()
    if not runs:
        raise CouldNotRun(
            f"no {i.job_runs_table} row for job {job!r}: check targets.{target.name}.integrity.job_prefix and "
            "job_name_column"
        )
    finished = [r for r in runs if r["status"] != RUNNING]
    if not finished:
        raise CouldNotRun(f"{job}: the latest {len(runs)} runs are all still running")
    run = finished[0]
    error = next((str(v) for k, v in (run["run"] or {}).items() if "error" in k.lower() and v), "")
    assert run["status"] == i.job_success, (
        f"{job}: latest run, started {run['started_at']:%Y-%m-%d %H:%M:%S %Z}, is {run['status']!r} "
        f"(expected {i.job_success!r}){': ' + error[:200] if error else ''}"
    )


@pytest.mark.condition("source_disabled")
def test_no_source_disabled(db, target):
    """UPDATE api_configurations SET enabled = false WHERE source = ...: is a source still switched off?"""
    i = target.integrity
    rows = db.query(
        "api_configurations", table=i.api_configurations_table, source_column=i.api_source_column,
        enabled_column=i.api_enabled_column,
    ).records()
    disabled = [r for r in rows if not r["enabled"]]
    since = {r["source"]: (r["config"] or {}).get("updated_at") for r in disabled}
    assert not disabled, (
        f"{len(disabled)} of {len(rows)} sources disabled in {i.api_configurations_table}: "
        + ", ".join(f"{s}{f' (since {t})' if t else ''}" for s, t in since.items())
    )
