"""Recovery Procedures / Database Recovery and Data Recovery: is the database back, whole, and without
duplicates? Read-only, one statement at a time, each bounded by statement_timeout.

The playbook's integrity loop (``FOR tbl IN SELECT tablename FROM pg_tables ... EXECUTE 'SELECT count(*)
FROM ' || tbl``) is one check over the tables the database lists when it runs, each table read by its own
statement and reported by name: parametrizing over a configured list instead would silently skip the table
added last week, and the database's own list is only known once it answers (not at collection time).
The counts feed the data-loss check, which compares them with the last healthy run's (the baseline).
"""

from __future__ import annotations

from typing import Any

import pytest

from scenescout_ir.core.evidence import Evidence, table_text
from scenescout_ir.core.outcomes import CouldNotRun
from scenescout_ir.judge import integrity
from scenescout_ir.judge.integrity import data_loss
from scenescout_ir.probes.db import TableCounts

pytestmark = pytest.mark.comprehensive


@pytest.mark.playbook("SELECT pg_is_in_recovery();")
@pytest.mark.condition("database_in_recovery")
def test_database_not_in_recovery(db):
    """psql $DATABASE_URL -c "SELECT pg_is_in_recovery();" """
    row = db.query("recovery_status").one()
    replayed = row["last_replayed_transaction"]
    detail = f"; last replayed transaction {replayed:%Y-%m-%d %H:%M:%S %Z}" if replayed else ""
    assert not row["in_recovery"], (
        f"the database is in recovery (pg_is_in_recovery() = true): a standby or still replaying WAL, "
        f"writes fail{detail}"
    )


@pytest.mark.condition("transaction_id_wraparound")
def test_transaction_ids_far_from_wraparound(db, target):
    """Database Recovery: VACUUM keeps every database's oldest transaction ID far from the 2^31 wraparound horizon
    (past it PostgreSQL refuses writes); thresholds.xid_age_ratio is the share of the way that is too far."""
    limit = target.thresholds.limit("xid_age_ratio")
    near = [d for d in db.query("transaction_id_age").records() if d["xid_age"] >= d["horizon"] * limit]
    described = "; ".join(f"{d['database']}: oldest transaction ID {d['xid_age']:,} transactions old "
                          f"({d['xid_age'] / d['horizon']:.1%} of the way)" for d in near[:5])
    assert not near, (f"{len(near)} database(s) past {limit:.1%} of the way to transaction ID wraparound "
                      f"(thresholds.xid_age_ratio = {limit:g}): {described}")


# --- the integrity loop and the data-loss baseline ------------------------------------------------


@pytest.fixture(scope="session")
def table_counts(db, evidence) -> TableCounts:
    result = db.count_public_tables()
    rows: list[tuple[Any, ...]] = [
        (t, result.counts.get(t, ""), result.unreadable.get(t) or result.not_counted.get(t) or "ok")
        for t in result.tables
    ]
    evidence(Evidence(
        "sql", "row count of every public table", table_text(["table", "rows", "read"], rows),
        {"counts": result.counts, "unreadable": result.unreadable, "not_counted": result.not_counted},
    ))
    return result


@pytest.mark.playbook("EXECUTE 'SELECT count(*) FROM ' || tbl;")
@pytest.mark.condition("data_loss")
def test_every_public_table_is_readable(table_counts):
    """Run integrity checks: SELECT count(*) FROM each table of pg_tables WHERE schemaname = 'public'"""
    tc = table_counts
    if not tc.tables:
        raise CouldNotRun("no tables in schema public: is the DSN's database the application's?")
    assert not tc.unreadable, (
        f"{len(tc.unreadable)} of {len(tc.tables)} public tables cannot be read: "
        + "; ".join(f"{t}: {e}" for t, e in tc.unreadable.items())
    )
    if tc.not_counted:
        raise CouldNotRun(
            f"{len(tc.not_counted)} of {len(tc.tables)} tables not read: "
            + "; ".join(f"{t}: {e}" for t, e in tc.not_counted.items())
        )


@pytest.mark.playbook("node scripts/verify-data-integrity.js")
@pytest.mark.condition("data_loss")
def test_no_data_loss_since_baseline(table_counts, baseline, target):
    """Verify data integrity: no table lost more than integrity.data_loss_ratio of its rows since the last
    healthy run (whose counts this run then becomes)."""
    tc = table_counts
    previous = baseline.load()
    if previous is None:
        try:
            taken_at = baseline.save(tc.counts)
        except OSError as exc:
            raise CouldNotRun(f"no baseline yet, and it could not be written to {baseline.path}: {exc}") from None
        baseline.note("no baseline yet: written", (
            f"no baseline for target {target.name} yet: wrote the row counts of {len(tc.counts)} tables to "
            f"{baseline.path} ({taken_at}); the next run compares against them"), counts=tc.counts)
        return
    before: dict[str, int] = previous["counts"]
    judged = data_loss(before, tc.counts, {*tc.unreadable, *tc.not_counted}, target.integrity.data_loss_ratio)
    baseline.note(f"row counts against the baseline of {previous.get('taken_at')}",
                  table_text(integrity.COLUMNS, judged.rows), baseline=previous)
    assert not judged.losses, (
        f"rows lost since the baseline of {previous.get('taken_at')}: " + "; ".join(judged.losses)
        + f" (if a table was dropped on purpose, delete {baseline.path} to start a new baseline)"
    )
    try:
        taken_at = baseline.save(integrity.refreshed(before, tc.counts))  # tables not read keep their last count
    except OSError as exc:
        baseline.note("baseline not refreshed", f"could not write {baseline.path}: {exc}")
    else:
        baseline.note("baseline refreshed", f"{baseline.path} now holds this run's counts ({taken_at})")


# --- duplicates -----------------------------------------------------------------------------------


@pytest.mark.playbook("node scripts/verify-data-integrity.js")
@pytest.mark.condition("duplicate_events")
def test_no_duplicate_events(db, target):
    """Verify data integrity: no event ingested twice (the same integrity.duplicate_key more than once)."""
    key = list(target.integrity.duplicate_key)
    if not key:
        pytest.skip(f"not applicable: no integrity.duplicate_key configured in targets.toml "
                    f"(targets.{target.name}.integrity.duplicate_key = [])")
    table = target.events.table
    if db.has_unique_index(table, key):
        return  # a unique index on exactly this key: duplicates cannot exist, and the table is not scanned
    duplicates = db.duplicate_events(table, key)
    worst = "; ".join(
        f"({', '.join(str(d[c]) for c in key)}) x{d['copies']}" for d in duplicates[:5]
    )
    assert not duplicates, (
        f"{duplicates[0]['duplicated_keys'] if duplicates else 0} ({', '.join(key)}) keys occur more than once "
        f"in {table} and no unique index prevents it; worst: {worst}"
    )
