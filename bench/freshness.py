"""Ingestion freshness on an events table of 10 million rows: the suite's query (one index probe per
source, scenescout_ir/probes/queries/ingestion_freshness.sql) against the playbook's `GROUP BY source` over the
whole table; with the (source, created_at) index the suite recommends, and without it. Then the suite's
missing-index check is run against both states of the same table.

The table lives in a throw-away PostgreSQL 15 cluster (the demo stack's postgres module) that is
removed at the end; the rows come from generate_series.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from fixtures.demo import procs
from fixtures.demo.postgres import Cluster
from scenescout_ir.probes.db import identifier, load_query

from .common import PY, WORK, log, quiet_machine, run_timed, summary

ROWS = 10_000_000
RUNS = 5
SOURCES = ("ticketmaster", "eventbrite", "songkick", "meetup")
INDEX = "events_source_created_at_idx"

PLAYBOOK_SQL = """
SELECT source, MAX(created_at) as last_event_time,
  EXTRACT(EPOCH FROM (NOW() - MAX(created_at)))/60 as minutes_since_last
FROM events
GROUP BY source"""

# 40/30/20/10 % of the rows per source, created over the last 90 days, the newest a few seconds old
LOAD_SQL = """
INSERT INTO events (source, external_id, title, event_date, city, venue_name, created_at)
SELECT CASE WHEN i %% 10 < 4 THEN 'ticketmaster' WHEN i %% 10 < 7 THEN 'eventbrite'
            WHEN i %% 10 < 9 THEN 'songkick' ELSE 'meetup' END,
       'x' || i, 'Event ' || i, now() + (i %% 90) * interval '1 day', 'Berlin', 'Venue ' || (i %% 400),
       now() - ((%(rows)s - i) * (90 * 86400.0 / %(rows)s)) * interval '1 second'
FROM generate_series(1, %(rows)s) AS i"""


def suite_statement() -> sql.Composed:
    """The suite's query exactly as db.query() composes it for the default events configuration."""
    names = {"table": "events", "source_column": "source", "timestamp_column": "created_at"}
    return sql.SQL(load_query("ingestion_freshness")).format(**{k: identifier(v) for k, v in names.items()})


def timed_query(conn: psycopg.Connection, statement: Any, params: dict[str, Any] | None = None) -> float:
    start = time.perf_counter()
    conn.execute(statement, params).fetchall()
    return time.perf_counter() - start


def measure(conn: psycopg.Connection) -> dict[str, Any]:
    suite = suite_statement()
    playbook, ours, first = [], [], {}
    for i in range(RUNS + 1):  # the first round warms the cache: reported apart
        p = timed_query(conn, PLAYBOOK_SQL)
        s = sum(timed_query(conn, suite, {"source": source}) for source in SOURCES)  # all four sources
        if i == 0:
            first = {"playbook_s": round(p, 6), "suite_s": round(s, 6)}
        else:
            playbook.append(p)
            ours.append(s)
    plan = conn.execute(sql.SQL("EXPLAIN ") + suite, {"source": "meetup"}).fetchall()
    playbook_plan = conn.execute("EXPLAIN " + PLAYBOOK_SQL).fetchall()
    return {"playbook": summary(playbook), "suite": summary(ours), "first_round": first,
            "suite_plan": [r[0] for r in plan], "playbook_plan": [r[0] for r in playbook_plan],
            "ratio": round(summary(playbook)["median"] / summary(ours)["median"], 1)}


def missing_index_check(dsn: str, state: Path) -> dict[str, Any]:
    """`pytest -m performance -k freshness_query` against this table, as a user would run it."""
    targets = state / "targets.toml"
    targets.write_text("\n".join([
        "[targets.bench]", 'base_url = "http://127.0.0.1:9"', 'dsn_env = "BENCH_DATABASE_URL"', "host_checks = false",
        "[targets.bench.sources]", *(f'{s} = {{ max_age = "1h" }}' for s in SOURCES),
        "[targets.bench.timeouts]", "statement_s = 30",
    ]) + "\n")
    verdict_file = state / "verdict.json"
    timed = run_timed([PY, "-m", "pytest", "-m", "performance", "-k", "freshness_query", "-q", "-p",
                       "no:cacheprovider", f"--targets-file={targets}", "--target", "bench",
                       f"--verdict-file={verdict_file}"], env={"BENCH_DATABASE_URL": dsn}, cap_s=120)
    verdict = json.loads(verdict_file.read_text()) if verdict_file.exists() else {}
    findings = verdict.get("findings", [])
    return {"seconds": timed.seconds, "severity": verdict.get("severity"),
            "finding": findings[0]["summary"] if findings else None,
            "condition": findings[0]["condition_key"] if findings else None}


def run(rows: int = ROWS) -> dict[str, Any]:
    load = quiet_machine()
    state = WORK / "freshness"
    shutil.rmtree(state, ignore_errors=True)
    (state / "run").mkdir(parents=True)  # the cluster's server log goes to run/postgres.log
    os.chmod(state, 0o755)
    cluster = Cluster(state, procs.free_port())
    pid = None
    started = time.perf_counter()
    try:
        cluster.init()
        pid = cluster.start()
        cluster.bootstrap("bench-app", "bench-oncall")
        with psycopg.connect(cluster.admin_dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("TRUNCATE events")
            conn.execute(f"DROP INDEX {INDEX}")
            conn.execute("DROP INDEX events_event_date_idx")  # the app's; neither query uses it
            conn.execute("ALTER TABLE events DROP CONSTRAINT events_source_external_id_key")
            log(f"freshness: loading {rows:,} rows")
            t = time.perf_counter()
            conn.execute(LOAD_SQL, {"rows": rows})
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            conn.execute("ALTER TABLE events ADD CONSTRAINT events_source_external_id_key UNIQUE (source, external_id)")
            conn.execute("VACUUM (ANALYZE) events")
            prepare_s = time.perf_counter() - t
            size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('events'))").fetchone()[0]  # type: ignore[index]
            log("freshness: without the (source, created_at) index")
            without = measure(conn)
            without_check = missing_index_check(cluster.admin_dsn(), state)
            log("freshness: with the index")
            t = time.perf_counter()
            conn.execute(f"CREATE INDEX {INDEX} ON events (source, created_at DESC)")
            conn.execute("VACUUM (ANALYZE) events")
            index_s = time.perf_counter() - t
            with_index = measure(conn)
            with_check = missing_index_check(cluster.admin_dsn(), state)
            settings: dict[str, str] = dict(conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit')").fetchall())
    finally:
        cluster.stop(pid)
        cluster.remove()
        shutil.rmtree(state, ignore_errors=True)
    return {
        "rows": rows, "table_size": size, "load_s": round(load_s, 1), "constraint_and_vacuum_s": round(prepare_s, 1),
        "index_build_s": round(index_s, 1), "runs": RUNS, "sources": len(SOURCES),
        "with_index": with_index, "without_index": without,
        "check_with_index": with_check, "check_without_index": without_check,
        "settings": settings, "total_s": round(time.perf_counter() - started, 1), "load": load,
    }
