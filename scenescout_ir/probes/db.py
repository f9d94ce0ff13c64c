"""The one database adapter: a single read-only session with timeouts, opened once, queries by name.

A database that is down or hangs is found out once: the connection attempt (or the query that hangs) is
remembered, and every later query raises :class:`CouldNotRun` at once with that reason.
"""

from __future__ import annotations

import contextlib
import queue
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

from ..config import Timeouts
from ..evidence import Evidence, table_text
from ..outcomes import Blind, ConfigError, CouldNotRun
from ..rules import classify_connect_error
from .threads import for_main_thread

APPLICATION_NAME = "scenescout-ir"
T = TypeVar("T")

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
    phase: str | None = None  # where it failed: configuration, dns, tcp, tls, authentication, startup, first query
    endpoint: str = ""  # user@host:port/dbname, never the password
    diagnosis: str = ""

    def evidence(self) -> Evidence:
        """What the connection attempt shows: the endpoint (no password), the phase, the time spent."""
        if self.ok:
            text = (f"connected to {self.endpoint} (password redacted) in {self.elapsed_s:.2f} s\n"
                    f"version: {self.version}\nin recovery: {'yes' if self.in_recovery else 'no'}")
        else:
            whose = ("the suite's own credentials or configuration (not an incident)" if self.suite_problem
                     else "the database (an incident)")
            text = (f"endpoint: {self.endpoint or '(no DSN)'} (password redacted)\n"
                    f"failed phase: {self.phase}\ntime spent: {self.elapsed_s:.2f} s\nerror: {self.error}\n"
                    f"diagnosis: {self.diagnosis}\nwhose problem: {whose}")
        data = {"endpoint": self.endpoint, "ok": self.ok, "phase": self.phase, "elapsed_s": round(self.elapsed_s, 3),
                "error": self.error, "blind": self.suite_problem}
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
    return resources.files("scenescout_ir.queries").joinpath(f"{name}.sql").read_text(encoding="utf-8")


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
        deadline = self.timeouts.connect_s + 2.0
        try:
            self.connections_opened += 1
            self._conn = _run_with_deadline(lambda: psycopg.connect(conninfo, autocommit=True), deadline)
        except TimeoutError:
            return self._failed(start, endpoint, f"no answer within {deadline:g} s (connect)")
        except psycopg.Error as exc:
            return self._failed(start, endpoint, _first_line(exc))
        try:
            info = self._fetch("connectivity", load_query("connectivity"), {})
        except CouldNotRun as exc:
            return Connectivity(False, time.monotonic() - start, str(exc), phase="first query", endpoint=endpoint,
                                diagnosis="connected, but the first query did not come back")
        row = info.one()
        return Connectivity(True, time.monotonic() - start, None, row["version"], row["in_recovery"],
                            phase=None, endpoint=endpoint)

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
        dsn = self._dsn()
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"the database DSN is malformed: {_first_line(exc)}") from None
        statement_ms = int(self.timeouts.statement_s * 1000)
        options = " ".join(filter(None, [
            str(params.get("options") or ""),
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={statement_ms}",
            "-c lock_timeout=1000",
            f"-c idle_in_transaction_session_timeout={statement_ms * 2}",
        ]))
        params.update(
            options=options,
            connect_timeout=max(2, round(self.timeouts.connect_s)),
            application_name=APPLICATION_NAME,
        )
        return make_conninfo("", **params)

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

        def execute() -> tuple[list[str], list[tuple[Any, ...]]]:
            with conn.cursor() as cur:
                cur.execute(statement, params)  # type: ignore[arg-type]
                columns = [d.name for d in cur.description or []]
                return columns, list(cur.fetchall()) if cur.description else []

        deadline = self.timeouts.statement_s + 2.0
        self.statements_run += 1
        text = statement if isinstance(statement, str) else statement.as_string(conn)
        try:
            columns, rows = _run_with_deadline(execute, deadline)
        except TimeoutError:
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
