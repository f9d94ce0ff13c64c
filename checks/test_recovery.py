"""Resolution and Recovery: `node scripts/monitoring/verify-ingestion-recovery.js`, one check per source.

After a mitigation every enabled source must ingest again: new events since the incident began (--since;
default 15 minutes ago), and its latest job run not a failure. Sources switched off during the mitigation
(api_configurations.enabled = false) are not expected to ingest; they are reported once, as a reminder to
switch them back on.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from scenescout_ir.core.outcomes import CouldNotRun, Finding
from scenescout_ir.judge.jobs import recent_job_runs, when

pytestmark = pytest.mark.comprehensive


@pytest.fixture(scope="session")
def since(pytestconfig, incident_start) -> datetime | None:
    """--since as an aware time (a time without offset is this machine's local time); without it, the open
    incident's start; None: 15 minutes ago."""
    raw = str(pytestconfig.getoption("since") or "").strip()
    if not raw:
        return incident_start
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


@pytest.mark.playbook("node scripts/monitoring/verify-ingestion-recovery.js")
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


@pytest.mark.playbook("node scripts/monitoring/verify-ingestion-recovery.js")
@pytest.mark.condition("job_failed")
def test_latest_job_run_succeeded(db, target, source, source_settings):
    """supabase functions logs ingest_<source>: the latest run of each enabled source's job did not fail.

    A run failed when its status is one of integrity.job_failure_statuses (failed, error, timeout, ...): other
    words (success, completed, ok, done) are not failures. The latest run failing with the last N all failed
    is a source failure (SEV2); with successes among them, a degradation (SEV3)."""
    skip_if_disabled(source, source_settings, target)
    history = recent_job_runs(db, target, source)
    run = history.latest
    if run is None:
        raise CouldNotRun(f"{history.job}: the latest {history.in_progress} runs are all still running")
    if not run.failed:
        return
    message = (
        f"{history.job}: latest run, started {when(run.started_at)}, is {run.status!r}"
        f"{': ' + run.error[:200] if run.error else ''}"
    )
    if not history.all_failed:
        raise Finding(
            "ingestion_job_failing",
            f"{message} ({len(history.failed)} of its last {len(history.runs)} runs failed)",
        )
    assert not run.failed, f"{message} (its last {len(history.runs)} runs all failed)"


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
