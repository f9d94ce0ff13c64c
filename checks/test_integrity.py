"""Recovery Procedures / Database Recovery and Data Recovery: is the database back, whole, and without
duplicates? Read-only, one statement at a time, each bounded by statement_timeout.

The playbook's integrity loop (``FOR tbl IN SELECT tablename FROM pg_tables ... EXECUTE 'SELECT count(*)
FROM ' || tbl``) is one check over the tables the database lists when it runs, each table read by its own
statement and reported by name: parametrizing over a configured list instead would silently skip the table
added last week, and the database's own list is only known once it answers (not at collection time).
The counts feed the data-loss check, which compares them with the last healthy run's (the baseline).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from scenescout_ir.evidence import Evidence, table_text
from scenescout_ir.outcomes import CouldNotRun
from scenescout_ir.plugin import suite
from scenescout_ir.probes.db import identifier, load_query

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


# --- the integrity loop and the data-loss baseline ------------------------------------------------


@dataclass(frozen=True)
class TableCounts:
    """The integrity loop's result: rows per readable table, the error of each unreadable one."""

    tables: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # the database failed reading it: a finding
    not_counted: dict[str, str] = field(default_factory=dict)  # the suite could not look (permission, timeout)


@pytest.fixture(scope="session")
def table_counts(db, pytestconfig) -> TableCounts:
    tables = tuple(r["table_name"] for r in db.query("public_tables").records())
    counts: dict[str, int] = {}
    unreadable: dict[str, str] = {}
    not_counted: dict[str, str] = {}
    for table in tables:
        try:
            counts[table] = int(db.query("table_row_count", table=table).one()["row_count"])
        except CouldNotRun as exc:
            not_counted[table] = str(exc).removeprefix("table_row_count: ")
        except psycopg.DatabaseError as exc:  # data corrupted, a missing file, an I/O error: what the loop is for
            unreadable[table] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    result = TableCounts(tables, counts, unreadable, not_counted)
    rows: list[tuple[Any, ...]] = [(t, counts.get(t, ""), unreadable.get(t) or not_counted.get(t) or "ok")
                                   for t in tables]
    suite(pytestconfig).evidence(Evidence(
        "sql", "row count of every public table", table_text(["table", "rows", "read"], rows),
        {"counts": counts, "unreadable": unreadable, "not_counted": not_counted},
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


class Baseline:
    """The row counts of the last healthy run, per target, in the file integrity.baseline_file."""

    def __init__(self, path: Path, target: str, record: Any) -> None:
        self.path = path
        self.target = target
        self._record = record

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CouldNotRun(f"cannot read the baseline {self.path}: {exc} (delete it to start a new one)") from None
        entry = data.get("targets", {}).get(self.target) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) and isinstance(entry.get("counts"), dict) else None

    def save(self, counts: dict[str, int]) -> str:
        """Atomically replace this target's entry; returns the time it was taken."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
            data = {"targets": {}}
        taken_at = datetime.now(UTC).isoformat(timespec="seconds")
        data["targets"][self.target] = {"taken_at": taken_at, "counts": dict(sorted(counts.items()))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".baseline-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, self.path)
        return taken_at

    def note(self, title: str, text: str, **data: Any) -> None:
        self._record(Evidence("baseline", title, text, {"baseline_file": str(self.path), **data}))


@pytest.fixture
def baseline(pytestconfig, target) -> Baseline:
    path = Path(target.integrity.baseline_file)
    if not path.is_absolute():
        path = suite(pytestconfig).root / path
    return Baseline(path, target.name, suite(pytestconfig).evidence)


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
    limit = target.integrity.data_loss_ratio
    before: dict[str, int] = previous["counts"]
    losses, rows = [], []
    for table, then in sorted(before.items()):
        now = tc.counts.get(table)
        if table in tc.unreadable or table in tc.not_counted:
            rows.append((table, then, "", "not read"))
            continue
        if now is None:
            losses.append(f"{table} is gone (it had {then} rows)")
            rows.append((table, then, "", "GONE"))
            continue
        drop = (then - now) / then if then else 0.0
        rows.append((table, then, now, f"{-drop:+.1%}"))
        if drop > limit:
            losses.append(f"{table} has {now} rows, {then} at the baseline (-{drop:.0%}; limit: {limit:.0%})")
    baseline.note(f"row counts against the baseline of {previous.get('taken_at')}",
                  table_text(["table", "baseline", "now", "change"], rows), baseline=previous)
    assert not losses, (
        f"rows lost since the baseline of {previous.get('taken_at')}: " + "; ".join(losses)
        + f" (if a table was dropped on purpose, delete {baseline.path} to start a new baseline)"
    )
    try:
        taken_at = baseline.save({**before, **tc.counts})  # tables not read this time keep their last count
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
    if db.query("unique_key_index", {"table": table, "columns": key}).rows:
        return  # a unique index on exactly this key: duplicates cannot exist, and the table is not scanned
    statement = sql.SQL(load_query("duplicate_events")).format(
        key_columns=sql.SQL(", ").join(identifier(c) for c in key), table=identifier(table),
    )
    duplicates = db.run("duplicate_events", statement, {}).records()
    worst = "; ".join(
        f"({', '.join(str(d[c]) for c in key)}) x{d['copies']}" for d in duplicates[:5]
    )
    assert not duplicates, (
        f"{duplicates[0]['duplicated_keys'] if duplicates else 0} ({', '.join(key)}) keys occur more than once "
        f"in {table} and no unique index prevents it; worst: {worst}"
    )
