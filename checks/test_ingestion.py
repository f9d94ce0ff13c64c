"""Application-Specific Checks: "Check event ingestion status", one check per configured source."""

import pytest

pytestmark = pytest.mark.emergency


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
