"""The one database adapter: a single connection, opened once, queries by name, each in a read-only transaction
with its own bounds.

A database that is down or hangs is found out once: the connection attempt (or the query that hangs) is
remembered, and every later query raises :class:`CouldNotRun` at once with that reason.

The bounds (``statement_timeout``, ``lock_timeout``, ``idle_in_transaction_session_timeout``, read-only) are set
per transaction (``BEGIN READ ONLY`` and ``set_config(..., true)``, i.e. ``SET LOCAL``), not in the ``options``
startup parameter: a connection pooler in transaction mode (PgBouncer's default configuration, Supabase's
Supavisor) refuses that parameter, or drops it when told to ignore it, and a session-level ``SET`` does not
survive it either. ``set_config`` returns what is in force, so every transaction verifies its bounds in the same
round trip; where they cannot be set (a pooler in statement mode refuses transaction blocks) the run says so and
the client-side deadline (``statement_s`` + 2 s) is the only bound.
"""

from __future__ import annotations

import contextlib
import queue
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scenescout_ir.core.config import Timeouts
from scenescout_ir.core.evidence import Evidence, table_text
from scenescout_ir.core.outcomes import Blind, ConfigError, CouldNotRun
from scenescout_ir.probes.connect_errors import classify_connect_error
from scenescout_ir.probes.threads import for_main_thread

APPLICATION_NAME = "scenescout-ir"  # how the suite's own sessions are told apart in pg_stat_activity
T = TypeVar("T")
LOCK_TIMEOUT_MS = 1000
# The blind parts of the database a role without pg_read_all_stats has (see session_visibility.sql).
SESSIONS, STATEMENTS = "database sessions", "database statements"
GRANT = "grant pg_read_all_stats (or pg_monitor) to"

# errors that mean "the suite could not look", not "the database is broken"
_SUITE_PROBLEMS = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.UndefinedObject,
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.FeatureNotSupported,
    psycopg.errors.ObjectNotInPrerequisiteState,  # e.g. pg_stat_statements not preloaded
    psycopg.errors.SyntaxError,
)


@dataclass(frozen=True)
class QueryResult:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    elapsed_s: float

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def one(self) -> dict[str, Any]:
        return self.records()[0]


@dataclass(frozen=True)
class Connectivity:
    ok: bool
    elapsed_s: float
    error: str | None = None
    version: str | None = None
    in_recovery: bool | None = None
    suite_problem: bool = False  # blind: the suite's own DSN, credentials or TLS settings; not an incident
    phase: str | None = None  # where it failed: configuration, dns, pooler, tcp, tls, authentication, startup,
    # connect, first query (connect_errors.classify_connect_error)
    endpoint: str = ""  # user@host:port/dbname, never the password
    diagnosis: str = ""
    bounds: str = ""  # the statement bounds in force, as verified, or why they are not (then warning is set)
    warning: str | None = None  # the suite's own bounds are not in force: said in the verdict

    def evidence(self) -> Evidence:
        """What the connection attempt shows: the endpoint (no password), the phase, the time spent."""
        if self.ok:
            text = (f"connected to {self.endpoint} (password redacted) in {self.elapsed_s:.2f} s\n"
                    f"version: {self.version}\nin recovery: {'yes' if self.in_recovery else 'no'}\n"
                    f"bounds: {self.bounds}" + (f"\nWARNING: {self.warning}" if self.warning else ""))
        else:
            whose = ("the suite's own credentials or configuration (not an incident)" if self.suite_problem
                     else "the database (an incident)")
            text = (f"endpoint: {self.endpoint or '(no DSN)'} (password redacted)\n"
                    f"failed phase: {self.phase}\ntime spent: {self.elapsed_s:.2f} s\nerror: {self.error}\n"
                    f"diagnosis: {self.diagnosis}\nwhose problem: {whose}")
        data = {"endpoint": self.endpoint, "ok": self.ok, "phase": self.phase, "elapsed_s": round(self.elapsed_s, 3),
                "error": self.error, "blind": self.suite_problem, "bounds": self.bounds, "warning": self.warning}
        return Evidence("database", f"connection to {self.endpoint or 'the database'}", text, data)


@dataclass(frozen=True)
class TableCounts:
    """The integrity loop's result: rows per readable table, the error of each unreadable one."""

    tables: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # the database failed reading it: a finding
    not_counted: dict[str, str] = field(default_factory=dict)  # the suite could not look (permission, timeout)


@cache
def load_query(name: str) -> str:
    return resources.files("scenescout_ir.probes.queries").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def identifier(name: str) -> sql.Identifier:
    """``events`` or ``public.events`` as a quoted identifier."""
    return sql.Identifier(*name.split("."))


def explained(name: str, **identifiers: str) -> sql.Composed:
    """``EXPLAIN (FORMAT JSON)`` of a named query, its identifiers filled as db.query() would."""
    text = sql.SQL(load_query(name)).format(**{k: identifier(v) for k, v in identifiers.items()})
    return sql.SQL("EXPLAIN (FORMAT JSON)\n") + text


class Database:
    def __init__(
        self, dsn: Callable[[], str], timeouts: Timeouts, record: Callable[[Evidence], None]
    ) -> None:
        self._dsn = dsn
        self.timeouts = timeouts
        self._record = record
        self._conn: psycopg.Connection[Any] | None = None
        self._connectivity: Connectivity | None = None
        self._dead: str | None = None  # why every later query is refused at once
        self._lock = threading.Lock()
        self._quiet = threading.local()  # set in the background connection: its evidence waits for a check
        self._deferred: list[Evidence] = []
        self.connections_opened = 0
        self.statements_run = 0
        self._bounded = True  # each statement in a read-only transaction with its bounds set and verified
        self._bounds_seen = ""  # what set_config said is in force (verified in every transaction)
        self._bounds_warning: str | None = None  # why the bounds are not in force, when they are not
        self._visibility: dict[str, Any] | None = None

    def prefetch(self) -> None:
        """Start connecting now, in the background: the first check that needs the database gets the result
        (and the attempt's evidence) without waiting for it again."""
        def connect() -> None:
            self._quiet.active = True
            self.connectivity()

        with for_main_thread():  # a Ctrl-C reaches the main thread, not this one
            threading.Thread(target=connect, name="scenescout-ir-db-prefetch", daemon=True).start()

    def _note(self, evidence: Evidence) -> None:
        if getattr(self._quiet, "active", False):
            self._deferred.append(evidence)
        else:
            self._record(evidence)

    # --- the connection ----------------------------------------------------------------------------
    def connectivity(self) -> Connectivity:
        """Connect once (read-only, with timeouts) and say how it went; later calls return the same."""
        with self._lock:
            if self._connectivity is None:
                self._connectivity = self._connect()
                if not self._connectivity.ok and self._connectivity.suite_problem:
                    self._dead = (f"database not checked (the suite's own credentials or configuration): "
                                  f"{self._connectivity.error}")
                elif not self._connectivity.ok:
                    self._dead = f"database unreachable: {self._connectivity.error}"
            if not getattr(self._quiet, "active", False):
                deferred, self._deferred = self._deferred, []
                for evidence in deferred:  # the background connection's, to the first check that asks
                    self._record(evidence)
            return self._connectivity

    def _connect(self) -> Connectivity:
        start = time.monotonic()
        try:
            conninfo = self._conninfo()
        except ConfigError as exc:
            return Connectivity(False, 0.0, str(exc), suite_problem=True, phase="configuration",
                                diagnosis=classify_connect_error(str(exc)).diagnosis)
        endpoint = describe_endpoint(conninfo)
        failed = self._open(conninfo, start, endpoint)
        if failed is not None:
            return failed
        try:
            try:
                info = self._fetch("connectivity", load_query("connectivity"), {})
            except _NoTransactionBlocks as exc:  # a pooler in statement mode closed the connection: again, unbounded
                self._bounded = False
                self._bounds_warning = (
                    f"the suite's statement bounds are not in force: the server refuses transaction blocks ({exc}; "
                    "a connection pooler in statement mode?), so its statements run without statement_timeout, "
                    "lock_timeout or a read-only transaction; only the client-side deadline of "
                    f"{self._deadline():g} s bounds them (a cancel request is sent at that deadline)"
                )
                failed = self._open(conninfo, start, endpoint)
                if failed is not None:
                    return failed
                info = self._fetch("connectivity", load_query("connectivity"), {})
        except CouldNotRun as exc:
            return Connectivity(False, time.monotonic() - start, str(exc), phase="first query", endpoint=endpoint,
                                diagnosis="connected, but the first query did not come back")
        row = info.one()
        if self._bounds_warning:
            self._note(Evidence("warning", "the suite's statement bounds", self._bounds_warning))
        return Connectivity(True, time.monotonic() - start, None, row["version"], row["in_recovery"],
                            phase=None, endpoint=endpoint, bounds=self._bounds_text(), warning=self._bounds_warning)

    def _open(self, conninfo: str, start: float, endpoint: str) -> Connectivity | None:
        """Open the connection; the failed attempt, classified, when it cannot be opened."""
        deadline = self.timeouts.connect_s + 2.0
        try:
            self.connections_opened += 1
            # no server-side prepared statements: a pooler in transaction mode (PgBouncer before 1.21) runs
            # each transaction on whichever server connection is free, where the statement was never prepared
            self._conn = _run_with_deadline(
                lambda: psycopg.connect(conninfo, autocommit=True, prepare_threshold=None), deadline)
        except TimeoutError:
            return self._failed(start, endpoint, f"no answer within {deadline:g} s (connect)")
        except psycopg.Error as exc:
            return self._failed(start, endpoint, _first_line(exc))
        return None

    def _bounds_text(self) -> str:
        client = f"client-side deadline {self._deadline():g} s per statement"
        if not self._bounded:
            return f"none on the server (transaction blocks refused); {client}"
        return f"{self._bounds_seen}, set per transaction (SET LOCAL) and verified; {client}"

    def _deadline(self) -> float:
        return self.timeouts.statement_s + 2.0

    def _failed(self, start: float, endpoint: str, error: str) -> Connectivity:
        failure = classify_connect_error(error)
        phase = failure.phase
        if phase == "tcp" and "refused" not in error.lower() and self._tcp_accepts():
            phase = "startup"  # the port accepts TCP; the server behind it does not answer the protocol
        return Connectivity(False, time.monotonic() - start, error, suite_problem=failure.blind, phase=phase,
                            endpoint=endpoint, diagnosis=failure.diagnosis)

    def _tcp_accepts(self) -> bool:
        """Below the protocol: does the DSN's port accept a TCP connection at all? (Only after a timeout.)"""
        try:
            host, port = self.endpoint()
            with socket.create_connection((host, port), timeout=min(self.timeouts.connect_s, 1.0)):
                return True
        except (OSError, CouldNotRun, ValueError):
            return False

    def _conninfo(self) -> str:
        """The DSN as given, plus the suite's application_name and connect_timeout: nothing in the ``options``
        startup parameter, which a pooler in transaction mode refuses (its bounds are set per transaction)."""
        dsn = self._dsn()
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"the database DSN is malformed: {_first_line(exc)}") from None
        params.update(connect_timeout=max(2, round(self.timeouts.connect_s)), application_name=APPLICATION_NAME)
        return make_conninfo("", **params)

    def _prologue(self) -> str:
        """``BEGIN READ ONLY`` and the bounds, ``SET LOCAL`` through ``set_config(..., true)``, which returns what
        is in force: one round trip, two statements (no parameters: the simple protocol allows both)."""
        statement_ms = int(self.timeouts.statement_s * 1000)
        return (
            "BEGIN READ ONLY; SELECT "
            f"set_config('statement_timeout', '{statement_ms}', true) AS statement_timeout, "
            f"set_config('lock_timeout', '{LOCK_TIMEOUT_MS}', true) AS lock_timeout, "
            f"set_config('idle_in_transaction_session_timeout', '{statement_ms * 2}', true) AS idle_timeout, "
            "current_setting('transaction_read_only') AS read_only"
        )

    def _begin(self, cur: psycopg.Cursor[Any]) -> None:
        """Open the statement's transaction with its bounds, and check they are the ones asked for."""
        try:
            cur.execute(self._prologue())
        except psycopg.errors.ProtocolViolation as exc:
            if "transaction blocks not allowed" in str(exc):
                raise _NoTransactionBlocks(_first_line(exc)) from None
            raise
        cur.nextset()
        row = cur.fetchone()
        assert row is not None
        statement, lock, idle, read_only = (str(v) for v in row)
        statement_ms = int(self.timeouts.statement_s * 1000)
        asked = {"statement_timeout": (statement, statement_ms), "lock_timeout": (lock, LOCK_TIMEOUT_MS),
                 "idle_in_transaction_session_timeout": (idle, statement_ms * 2)}
        wrong = [f"{name} {seen} (asked {want} ms)" for name, (seen, want) in asked.items() if _ms(seen) != want]
        if read_only != "on":
            wrong.append(f"transaction_read_only {read_only} (asked on)")
        self._bounds_seen = f"statement_timeout {statement}, lock_timeout {lock}, " \
                            f"idle_in_transaction_session_timeout {idle}, read-only {read_only}"
        if wrong and self._bounds_warning is None:
            self._bounds_warning = (f"the suite's statement bounds are not what it asked for: {', '.join(wrong)}; "
                                    f"only the client-side deadline of {self._deadline():g} s is sure to hold")
            self._note(Evidence("warning", "the suite's statement bounds", self._bounds_warning))

    def endpoint(self) -> tuple[str, int]:
        """The (host, port) the DSN points at, for the layers below the protocol (Scenario 2)."""
        try:
            params = conninfo_to_dict(self._dsn())
        except (ConfigError, psycopg.ProgrammingError) as exc:
            raise CouldNotRun(f"no database endpoint: {exc}") from None
        host = str(params.get("host") or params.get("hostaddr") or "localhost").split(",")[0]
        if host.startswith("/"):
            raise CouldNotRun(f"the DSN points at a Unix socket ({host}): no TCP layer to check")
        return host, int(str(params.get("port") or 5432).split(",")[0])

    def record_connection(self) -> Connectivity:
        """Connect (once) and keep the attempt as evidence of the check that asks."""
        status = self.connectivity()
        self._record(status.evidence())
        return status

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._dead is None:
            with contextlib.suppress(TimeoutError, psycopg.Error):  # closing is a courtesy, never a finding
                _run_with_deadline(conn.close, 2.0)

    # --- queries -----------------------------------------------------------------------------------
    def query(self, name: str, params: dict[str, Any] | None = None, **identifiers: str) -> QueryResult:
        """Run the named query from queries/; ``identifiers`` fill ``{placeholders}`` as quoted names."""
        text: str | sql.Composed = load_query(name)
        if identifiers:
            text = sql.SQL(text).format(**{k: identifier(v) for k, v in identifiers.items()})  # type: ignore[arg-type]
        return self.run(name, text, params or {})

    def explain(self, name: str, params: dict[str, Any] | None = None, **identifiers: str) -> QueryResult:
        """``EXPLAIN (FORMAT JSON)`` of the named query (nothing runs); kept as ``<name>_plan``."""
        return self.run(f"{name}_plan", explained(name, **identifiers), params or {})

    # --- what the checks ask, in the playbook's words ---------------------------------------------
    def count_public_tables(self) -> TableCounts:
        """``FOR tbl IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP EXECUTE 'SELECT
        count(*) FROM ' || tbl``: each table by its own statement; a table the database fails to read
        (corrupted data, a missing file, an I/O error) is unreadable, one the suite may not read is not counted."""
        tables = tuple(r["table_name"] for r in self.query("public_tables").records())
        counts: dict[str, int] = {}
        unreadable: dict[str, str] = {}
        not_counted: dict[str, str] = {}
        for table in tables:
            try:
                counts[table] = int(self.query("table_row_count", table=table).one()["row_count"])
            except CouldNotRun as exc:
                not_counted[table] = str(exc).removeprefix("table_row_count: ")
            except psycopg.DatabaseError as exc:  # what the integrity loop is for
                unreadable[table] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        return TableCounts(tables, counts, unreadable, not_counted)

    def require_session_visibility(self) -> None:
        """Before judging pg_stat_activity: may this role see the other roles' sessions? Without pg_read_all_stats
        (or pg_monitor, or superuser) their state, statement and transaction start are hidden, and a check reading
        them would pass blind: it is a part of the database not checked (:class:`Blind`) instead. Asked once."""
        if self._visibility is None:
            self._visibility = self.query("session_visibility").one()
        seen = self._visibility
        if not seen["reads_all_stats"] and seen["hidden_sessions"]:
            raise Blind(SESSIONS, (
                f"this role ({seen['role']}) sees only its own sessions: {seen['hidden_sessions']} other sessions show "
                "it no state, statement or transaction start in pg_stat_activity; "
                f"{GRANT} {seen['role']}"
            ))

    def has_unique_index(self, table: str, key: list[str]) -> bool:
        """A valid unique index on exactly these columns of the table (duplicates cannot exist)."""
        return bool(self.query("unique_key_index", {"table": table, "columns": key}).rows)

    def duplicate_events(self, table: str, key: list[str]) -> list[dict[str, Any]]:
        """The key values that occur more than once in the table, most copies first."""
        statement = sql.SQL(load_query("duplicate_events")).format(
            key_columns=sql.SQL(", ").join(identifier(c) for c in key), table=identifier(table),
        )
        return self.run("duplicate_events", statement, {}).records()

    def slow_statements(self, view: str, top: int) -> list[dict[str, Any]]:
        """``SELECT query, mean_exec_time, calls FROM pg_stat_statements ... ORDER BY mean_exec_time DESC``
        (and by total time), with when the statistics were last reset in the evidence."""
        with contextlib.suppress(CouldNotRun):  # before PostgreSQL 14 there is no pg_stat_statements_info
            self.query("statements_reset", info=view.replace("pg_stat_statements", "pg_stat_statements_info"))
        return self.query("slow_statements", {"top": top}, view=view).records()

    def run(self, name: str, statement: str | sql.Composable, params: dict[str, Any]) -> QueryResult:
        status = self.connectivity()
        if status.suite_problem:  # every check that needs the database is blind with it: never a silent OK
            raise Blind("database", self._dead or "database not checked")
        if not status.ok or self._dead:
            raise CouldNotRun(self._dead or "database unreachable")
        with self._lock:
            return self._fetch(name, statement, params)

    def _fetch(self, name: str, statement: str | sql.Composable, params: dict[str, Any]) -> QueryResult:
        conn = self._conn
        assert conn is not None
        start = time.monotonic()

        bounded = self._bounded

        def execute() -> tuple[list[str], list[tuple[Any, ...]]]:
            with conn.cursor() as cur:
                if bounded:
                    self._begin(cur)
                try:
                    cur.execute(statement, params)  # type: ignore[arg-type]
                    columns = [d.name for d in cur.description or []]
                    return columns, list(cur.fetchall()) if cur.description else []
                finally:
                    if bounded and not conn.closed:  # read-only: nothing to commit; frees a pooled server at once
                        with contextlib.suppress(psycopg.Error):
                            conn.execute("ROLLBACK")

        deadline = self._deadline()
        self.statements_run += 1
        text = statement if isinstance(statement, str) else statement.as_string(conn)
        try:
            columns, rows = _run_with_deadline(execute, deadline)
        except _NoTransactionBlocks:
            if self._connectivity is None:  # still connecting: _connect opens it again without the bounds
                raise
            self._dead = "the database connection refuses transaction blocks (a pooler in statement mode)"
            raise CouldNotRun(self._dead) from None
        except TimeoutError:
            if not bounded:  # nothing on the server stops it: ask the server to cancel it (without waiting)
                threading.Thread(target=_cancel, args=(conn,), name="scenescout-ir-db-cancel", daemon=True).start()
            self._dead = f"the database stopped answering (no reply to {name} within {deadline:g} s)"
            self._note(Evidence("sql", name, f"{text.strip()}\n\n-- no answer within {deadline:g} s"))
            raise CouldNotRun(self._dead) from None
        except psycopg.errors.QueryCanceled:
            self._note(Evidence("sql", name, f"{text.strip()}\n\n-- cancelled by statement_timeout"))
            raise CouldNotRun(
                f"{name} exceeded statement_timeout ({self.timeouts.statement_s:g} s): the database is slow "
                "or the query needs an index"
            ) from None
        except _SUITE_PROBLEMS as exc:
            self._note(Evidence("sql", name, f"{text.strip()}\n\n-- {_first_line(exc)}"))
            raise CouldNotRun(f"{name}: {_first_line(exc)}") from None
        except psycopg.OperationalError as exc:
            self._dead = f"the database connection broke during {name}: {_first_line(exc)}"
            raise CouldNotRun(self._dead) from None
        elapsed = time.monotonic() - start
        self._note(Evidence(
            "sql", name, f"{text.strip()}\n\n{table_text(columns, rows)}\n({elapsed * 1000:.1f} ms)",
            {"columns": columns, "rows": [[_plain(v) for v in row] for row in rows[:200]]},
        ))
        return QueryResult(name, columns, rows, elapsed)


class _NoTransactionBlocks(Exception):
    """The server (a pooler in statement mode) refuses BEGIN: the bounds cannot be set per transaction."""


def _cancel(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):  # a courtesy to the server: the run has moved on already
        conn.cancel_safe(timeout=5.0)


_UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def _ms(setting: str) -> int | None:
    """A time setting as PostgreSQL shows it (``5s``, ``1500ms``, ``1min``, ``0``) in milliseconds."""
    match = re.fullmatch(r"\s*(\d+)\s*(ms|s|min|h|d)?\s*", setting)
    if match is None:
        return None
    return int(match.group(1)) * _UNITS_MS[match.group(2) or "ms"]


def _run_with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn`` in a daemon thread; raise TimeoutError if it has not returned in time.

    A query on a connection whose server stopped answering blocks in recv() with no timeout of its own;
    the thread is abandoned (and dies with the process) so the run goes on.
    """
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def target() -> None:
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed to the caller as is
            box.put((False, exc))

    with for_main_thread():
        threading.Thread(target=target, name="scenescout-ir-db", daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise TimeoutError from None
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def describe_endpoint(conninfo: str) -> str:
    """``user@host:port/dbname`` from a conninfo string: what a person needs to see, never the password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(malformed DSN)"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    user = str(params.get("user") or "(default user)")
    dbname = str(params.get("dbname") or user)
    return f"{user}@{host}:{params.get('port') or 5432}/{dbname}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)
