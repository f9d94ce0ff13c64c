"""targets.toml into typed, frozen objects, validated up front with errors that say what to do.

Every name the playbook uses (a table, a column, a log file, an endpoint) is configuration here, so a real
deployment that differs from the demo is described, not patched.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from datetime import date, datetime
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from scenescout_ir.core.conditions import declared_limits
from scenescout_ir.core.outcomes import ConfigError

DEFAULT_TARGETS_FILE = "targets.toml"
DEFAULT_TARGET = "demo"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


Kind = Literal["", "url", "url_or_path", "route", "sql_name", "env_name", "text", "file", "dir", "named_tables",
               "condition_limits"]


@dataclass(frozen=True)
class Key:
    """How one targets.toml key is read, beyond what its field's type says (``Annotated[str, SQL]``).

    Every field of Target and its sections is a key of targets.toml, read by one reader (``_read``) from its
    type: bool, int and float (never negative; a name ending in ``_s`` is a duration: 30, "30s", "5m"), str
    (non-empty), Path, ``X | None``, ``tuple[X, ...]`` (a list), ``dict[str, X]`` (a table) and the section
    dataclasses (a table). A Key on a tuple or dict applies to its items.
    """

    kind: Kind = ""  # "": what the type says
    at_least: float | None = None  # a count that must be at least this
    alias: str | None = None  # another accepted spelling of the key (the documented `max_age` of max_age_s)
    table_name: bool = False  # not a key: the name of the table it is read from (a target's, a source's)
    derived: bool = False  # not a key: filled from another key (log_timezones, from logs' { path, timezone })


URL = Key("url")  # an http(s) URL with a host
URL_OR_PATH = Key("url_or_path")  # a path on the target's base URL ("/health") or a URL of its own
ROUTE = Key("route")  # a path starting with "/"
SQL = Key("sql_name")  # a table or column name ("events", "public.events")
ENV = Key("env_name")  # the name of an environment variable
TEXT = Key("text")  # any string, empty too
FILE = Key("file")  # a file, relative to the demo stack's state dir or else to the targets file's directory
DIR = Key("dir")  # a directory, relative to the targets file's directory
NAMED_TABLES = Key("named_tables")  # [X.sources] ticketmaster = { ... }: one table per item, named by its key
TABLE_NAME = Key(table_name=True)


@dataclass(frozen=True)
class Thresholds:
    """Every limit a check compares against; durations in seconds, ratios in 0..1, percentages 0..100."""

    stuck_transaction_s: float = 300.0  # the playbook's "INTERVAL '5 minutes'"
    blocking_wait_s: float = 30.0
    connection_saturation: float = 0.8
    log_error_ratio: float = 0.05
    log_min_errors: int = 5
    log_window_s: float = 900.0
    log_max_bytes: int = 8 * 1024 * 1024
    body_max_bytes: Annotated[int, Key(at_least=1)] = 10_000_000  # an HTTP body over this is "too large"
    disk_used_pct: float = 90.0
    memory_used_pct: float = 90.0
    load_per_core: float = 2.0
    response_slo_s: float = 2.0
    response_sev2_s: float = 10.0  # the playbook's SEV2 line: ">10 seconds response time"
    # the limits the conditions table declares (Condition.limits), as set in [targets.X.thresholds]
    declared: Annotated[dict[str, float], Key("condition_limits")] = field(default_factory=dict)

    def limit(self, name: str) -> float:
        """A limit by name: one of the fields above, or one a condition declares (set here, or its default)."""
        if name in self.declared:
            return self.declared[name]
        if name != "declared" and name in {f.name for f in fields(self)}:
            value: float = getattr(self, name)
            return value
        defaults = declared_limits()
        if name not in defaults:
            raise KeyError(f"no limit {name!r}: declare it in a Condition's limits (scenescout_ir/core/conditions.py)")
        return defaults[name]


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 3.0
    read_s: float = 5.0
    statement_s: float = 5.0
    dns_s: float = 3.0


@dataclass(frozen=True)
class Source:
    name: Annotated[str, TABLE_NAME]
    max_age_s: Annotated[float, Key(alias="max_age")] = 1800.0
    upstream_url: Annotated[str | None, URL_OR_PATH] = None  # the vendor API, e.g. https://app.ticketmaster.com/discovery/v2/events.json
    api_key_env: Annotated[str | None, ENV] = None  # the environment variable holding its key (never shown)
    api_key_param: str = "apikey"  # the query parameter the key goes in ...
    api_key_header: str | None = None  # ... or this header instead


@dataclass(frozen=True)
class Browser:
    """The browser context and the selectors of the front end (defaults fit the demo and SceneScout)."""

    viewport_width: int = 1280
    viewport_height: int = 800
    timezone: str = "UTC"
    locale: str = "en-US"
    geolocation: tuple[float, ...] = ()  # (latitude, longitude); empty: none
    grant_geolocation: bool = False
    local_storage: dict[str, str] = field(default_factory=dict)  # entries pre-seeded before the first load
    event_card: str = ".event-card"
    location_banner: str = ".location-banner"
    nav: str = "nav"
    main: str = "main"
    route_cards: dict[str, str] = field(default_factory=lambda: {"/venues": ".venue-card"})
    navigation_timeout_s: float = 10.0
    ttfb_limit_s: float = 0.8
    dom_content_loaded_limit_s: float = 2.0
    load_limit_s: float = 3.0
    lcp_limit_s: float = 2.5


@dataclass(frozen=True)
class Integrity:
    """Names for the integrity and recovery checks; a table that does not exist makes its check not run."""

    baseline_file: str = "reports/baseline.json"
    data_loss_ratio: float = 0.2  # a row count dropping by more than this share since the baseline
    duplicate_key: tuple[str, ...] = ("source", "external_id")
    job_runs_table: Annotated[str, SQL] = "job_runs"
    job_name_column: Annotated[str, SQL] = "job_name"
    job_status_column: Annotated[str, SQL] = "status"
    job_time_column: Annotated[str, SQL] = "started_at"
    job_prefix: str = "ingest_"
    job_success: str = "success"  # no longer judges a run (job_failure_statuses does); accepted for old files
    job_failure_statuses: tuple[str, ...] = (  # a run is failed when its status is one of these (any case)
        "failed", "failure", "error", "errored", "timeout", "timed_out", "crashed", "aborted",
    )
    # a source whose last this many finished runs all failed: source_jobs_failing
    job_failure_runs: Annotated[int, Key(at_least=1)] = 3
    # the runs' error text; none: any column whose name contains "error"
    job_error_column: Annotated[str | None, SQL] = None
    api_configurations_table: Annotated[str, SQL] = "api_configurations"
    api_source_column: Annotated[str, SQL] = "source"
    api_enabled_column: Annotated[str, SQL] = "enabled"


@dataclass(frozen=True)
class Performance:
    samples: Annotated[int, Key(at_least=1)] = 10  # requests per endpoint, as the playbook's `for i in {1..10}` loop
    sample_budget_s: float = 30.0  # total time the samples of one endpoint may take
    concurrency: Annotated[int, Key(at_least=1)] = 1  # sequential by default: never load a struggling site
    slow_statement_ms: float = 1000.0
    top_statements: int = 20
    cache_hit_ratio: float = 0.9
    temp_bytes_limit: int = 1 << 30
    deadlocks_limit: int = 0


@dataclass(frozen=True)
class Budget:
    """The whole run's time budget: a check that would start after it is spent is "could not run"."""

    emergency_s: float = 15.0  # a run of emergency checks only (pytest -m emergency)
    comprehensive_s: float = 60.0  # a run with any comprehensive or performance check


@dataclass(frozen=True)
class Waiver:
    """``[targets.X.waivers]`` ``"check"`` or ``"check[parameter]"`` = { reason = "...", expires = 2026-12-31 }:
    an accepted finding that does not fail the gate until the end of ``expires``
    (scenescout_ir/pytest_plugin/waivers.py)."""

    check: Annotated[str, TABLE_NAME]
    reason: Annotated[str, TEXT] = ""
    expires: date | None = None


@dataclass(frozen=True)
class Retries:
    """``[targets.X.retries]``: the checks that may flake get this many more attempts
    (scenescout_ir/pytest_plugin/retries.py)."""

    count: int = 0  # more attempts after a failed one; 0: none (--retries N overrides it)
    checks: tuple[str, ...] = ("checks/test_browser.py",)  # node-id prefixes or check-name patterns (fnmatch)
    emergency: bool = False  # also in a run of emergency checks only (off: a verdict in seconds comes first)
    flaky_fails: bool = False  # a run whose only problem is a FLAKY check exits 7 instead of 0 (--flaky-fails)


@dataclass(frozen=True)
class EventsTable:
    table: Annotated[str, SQL] = "events"
    source_column: Annotated[str, SQL] = "source"
    timestamp_column: Annotated[str, SQL] = "created_at"


@dataclass(frozen=True)
class Supabase:
    """[targets.X.supabase]: the provider layer (scenescout_ir/judge/provider.py). No project_ref: not applicable."""

    project_ref: str | None = None  # the project's ref (https://<ref>.supabase.co)
    token_env: Annotated[str, ENV] = "SUPABASE_ACCESS_TOKEN"  # the Supabase CLI's own variable; read access is enough
    api_url: Annotated[str, URL] = "https://api.supabase.com"  # the Management API (a stand-in's, in tests)
    status_url: Annotated[str | None, URL] = "https://status.supabase.com/api/v2/summary.json"  # Statuspage
    region: str | None = None  # the status page's region to watch (None: the project's, from the API)
    functions: tuple[str, ...] = ()  # the ingestion edge functions (empty: integrity.job_prefix + each source)
    services: tuple[str, ...] = ("db", "rest", "auth", "pooler", "storage", "realtime")  # asked for their health
    critical_services: tuple[str, ...] = ("db", "rest", "pooler")  # unhealthy: the project is down for users
    log_source_column: Annotated[str, SQL] = "source_name"  # the logs table's source column (docs also say `source`)
    function_log_source: str = "function_logs"  # console output of the edge functions
    api_log_source: str = "edge_logs"  # the API gateway's requests (REST, Auth)
    log_rows: Annotated[int, Key(at_least=1)] = 1000  # rows one log query may return (LIMIT)


@dataclass(frozen=True)
class Target:
    name: Annotated[str, TABLE_NAME]
    base_url: Annotated[str | None, URL]  # None: the demo stack's URL, resolved when the stack runs
    # paths on base_url, or URLs of their own (a data API on another origin)
    health_endpoints: Annotated[tuple[str, ...], URL_OR_PATH] = ("/health", "/api/health")
    routes: Annotated[tuple[str, ...], ROUTE] = ("/", "/discover", "/map", "/venues")
    # a failing critical route is SEV2, any other route SEV3
    critical_routes: Annotated[tuple[str, ...], ROUTE] = ("/",)
    ingestion_log: Annotated[Path | None, FILE] = None  # None: the first of logs whose file name contains "ingest"
    dsn_env: Annotated[str, ENV] = "DATABASE_URL"
    # false: the target has no database the suite may reach (a front-end-only preview deployment): its database
    # checks are not applicable, and no DSN is asked for (issue 15)
    database: bool = True
    # a path, or { path = "...", timezone = "America/New_York" } for a log whose timestamps carry no offset
    logs: Annotated[tuple[Path, ...], FILE] = (Path("logs/application.log"), Path("logs/ingestion.log"))
    # the timezone of each log given with one in logs (an IANA name), by its path
    log_timezones: Annotated[dict[Path, str], Key(derived=True)] = field(default_factory=dict)
    sources: Annotated[tuple[Source, ...], NAMED_TABLES] = ()
    events: EventsTable = field(default_factory=EventsTable)
    thresholds: Thresholds = field(default_factory=Thresholds)
    timeouts: Timeouts = field(default_factory=Timeouts)
    secret_env: tuple[str, ...] = ()
    host_checks: bool = True
    stack: Annotated[Path | None, DIR] = None  # the embedded demo stack's state dir
    description: Annotated[str, TEXT] = ""
    backend_origins: Annotated[tuple[str, ...], URL] = ()  # other origins the front end calls (API, database service)
    # header -> env var, sent to backend origins
    backend_headers_env: Annotated[dict[str, str], ENV] = field(default_factory=dict)
    app_processes: tuple[str, ...] = ()  # command-line patterns of the app's processes, when run on its host
    auth_health_url: Annotated[str | None, URL] = None
    payment_health_url: Annotated[str | None, URL] = None
    browser: Browser = field(default_factory=Browser)
    integrity: Integrity = field(default_factory=Integrity)
    performance: Performance = field(default_factory=Performance)
    budget: Budget = field(default_factory=Budget)
    supabase: Supabase = field(default_factory=Supabase)
    # component -> the components it depends on, over the default graph (scenescout_ir/judge/causes.py)
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    waivers: Annotated[tuple[Waiver, ...], NAMED_TABLES] = ()  # accepted findings, each with a reason and expiry
    retries: Retries = field(default_factory=Retries)

    @property
    def is_demo(self) -> bool:
        return self.stack is not None

    def route_is_critical(self, route: str) -> bool:
        return route in self.critical_routes

    def ingestion_log_path(self) -> Path | None:
        """The log the ingestion jobs write to (the playbook's logs/ingestion.log), if there is one."""
        if self.ingestion_log is not None:
            return self.ingestion_log
        return next((p for p in self.logs if "ingest" in p.name.lower()), None)

    def log_timezone(self, path: Path) -> str | None:
        """The timezone set for this log in logs (``{ path = ..., timezone = ... }``), or None."""
        return self.log_timezones.get(path)

    def with_base_url(self, url: str) -> Target:
        return replace(self, base_url=check_url(url, "--base-url"))

    def resolve_base_url(self) -> str:
        """The URL the checks use; for the demo, read from the running stack."""
        if self.base_url:
            return self.base_url
        return str(self.demo_state()["base_url"])

    @property
    def no_database(self) -> str | None:
        """Why the database checks are not applicable (``database = false``), or None."""
        return None if self.database else f"no database to check (targets.{self.name}.database = false)"

    def resolve_dsn(self) -> str:
        """The database DSN, from the environment (or the demo stack); raises ConfigError with the fix."""
        if self.no_database:
            raise ConfigError(self.no_database)
        if self.is_demo:  # never a DATABASE_URL that happens to be exported: that may be production
            return str(self.demo_state()["dsn"])
        dsn = os.environ.get(self.dsn_env, "").strip()
        if not dsn:
            raise ConfigError(
                f"{self.dsn_env} is not set: export {self.dsn_env}=postgresql://USER:PASSWORD@HOST/DB "
                f"(a read-only role is enough) or name another variable in targets.{self.name}.dsn_env"
            )
        return dsn

    def demo_state(self) -> dict[str, Any]:
        assert self.stack is not None
        path = self.stack / "stack.json"
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"the demo stack is not running ({path} not found): start it with "
                f"`make demo` or `python -m fixtures.demo start`"
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the demo stack's state {path}: {exc}") from None
        if not isinstance(state, dict) or "base_url" not in state or "dsn" not in state:
            raise ConfigError(f"the demo stack's state {path} is incomplete: restart it (make demo)")
        return state

    def headers_for(self, url: str) -> dict[str, str]:
        """The headers a request to ``url`` carries: backend_headers_env's, for a backend origin (e.g. the data
        API's apikey); raises ConfigError naming the variable when one is not set."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if not self.backend_headers_env or origin not in {o.rstrip("/") for o in self.backend_origins}:
            return {}
        headers = {}
        for header, env in self.backend_headers_env.items():
            value = self.env(env)
            if not value:
                raise ConfigError(f"{env} is not set: export it (the {header} header {origin} expects; "
                                  f"targets.{self.name}.backend_headers_env)")
            headers[header] = value
        return headers

    def env(self, name: str) -> str:
        """An environment variable the target names; for the demo stack, also what it exports in stack.json's
        ``env`` (as an operator would), when the variable is unset."""
        value = os.environ.get(name, "").strip()
        if not value and self.is_demo:
            with contextlib.suppress(ConfigError):
                value = str((self.demo_state().get("env") or {}).get(name) or "")
        return value

    def secrets(self) -> list[str]:
        """Values that must never be shown: the DSN's password and the secret environment variables."""
        names = [*self.secret_env, self.dsn_env, *(s.api_key_env for s in self.sources if s.api_key_env),
                 *self.backend_headers_env.values(), self.supabase.token_env]
        values = [self.env(name) for name in names]
        with contextlib.suppress(ConfigError):  # no DSN: nothing of it to hide
            values.append(self.resolve_dsn())
        return [v for v in values if v]


def parse_duration(value: Any, where: str) -> float:
    """``300``, ``"300s"``, ``"5m"``, ``"1.5h"``, ``"250ms"`` -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a duration like 30, \"30s\", \"5m\" or \"2h\", got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"{where} must be a duration like 30, \"30s\", \"5m\" or \"2h\", got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{where} must be greater than zero, got {value!r}")
    return seconds


def check_url(url: Any, where: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where} must be an http(s) URL with a host, like https://scenescout.app, got {url!r}")
    return str(url)  # exactly as written: a trailing slash can be part of the path (Eventbrite's /v3/users/me/)


def _check_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")


def _table(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table ([{where}]), got {type(raw).__name__}")
    return raw


def _number(raw: Any, where: str, kind: type = float) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where} must be a number, got {raw!r}")
    if raw < 0:
        raise ConfigError(f"{where} must not be negative, got {raw!r}")
    return kind(raw)


@dataclass(frozen=True)
class _Dirs:
    """What relative paths in a target are relative to."""

    targets: Path  # the targets file's directory
    logs: Path  # the demo stack's state dir, or else the targets file's directory


_NO_KEY = Key()


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A targets.toml dataclass's annotations, evaluated once per class (each target's tables ask again)."""
    return get_type_hints(cls, include_extras=True)


def _fields(cls: type) -> list[tuple[str, Any, Key, Any]]:
    """(name, type, Key, default) of each field of a targets.toml dataclass, from its annotations."""
    hints = _hints(cls)
    out = []
    for f in fields(cls):
        hint, key = hints[f.name], _NO_KEY
        if get_origin(hint) is Annotated:
            hint, *extras = get_args(hint)
            key = next((x for x in extras if isinstance(x, Key)), _NO_KEY)
        default = f.default if f.default is not MISSING else (
            f.default_factory() if f.default_factory is not MISSING else MISSING)
        out.append((f.name, hint, key, default))
    return out


def _read_table(cls: type, raw: Any, where: str, dirs: _Dirs, name: str | None = None) -> dict[str, Any]:
    """The values a table gives for ``cls``'s fields (those it leaves out keep their defaults)."""
    table = dict(_table(raw, where))
    specs = _fields(cls)
    for field_name, _, key, _ in specs:
        if key.alias and key.alias in table:  # the documented spelling; the field is in seconds
            table[field_name] = table.pop(key.alias)
    open_ = next((s for s in specs if s[2].kind == "condition_limits"), None)
    known = {n for n, _, key, _ in specs
             if not key.table_name and not key.derived and key.kind != "condition_limits"}
    more = declared_limits() if open_ else {}
    _check_keys(table, known | set(more), where)
    values: dict[str, Any] = {}
    for field_name, hint, key, _ in specs:
        if key.derived:
            continue
        if key.table_name:
            values[field_name] = name
        elif open_ is not None and field_name == open_[0]:
            values[field_name] = {k: _read(type(more[k]), _NO_KEY, v, f"{where}.{k}", dirs)
                                  for k, v in table.items() if k in more}
        elif field_name in table:
            values[field_name] = _read(hint, key, table[field_name], f"{where}.{field_name}", dirs)
    return values


def _read(hint: Any, key: Key, value: Any, where: str, dirs: _Dirs) -> Any:
    """One targets.toml value, checked and converted by its field's type and Key."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (UnionType, Union):  # X | None: a key left out is None
        return _read(next(a for a in args if a is not type(None)), key, value, where, dirs)
    if hint is date:  # a TOML date (2026-12-31) or the same as a string
        with contextlib.suppress(ValueError, TypeError):
            return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(value)
        raise ConfigError(f"{where} must be a date like 2026-12-31, got {value!r}")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint in (int, float):
        number = parse_duration(value, where) if where.endswith("_s") else _number(value, where, hint)
        if key.at_least is not None and number < key.at_least:
            raise ConfigError(f"{where} must be at least {key.at_least:g}, got {value!r}")
        return number
    if origin is tuple:
        return _read_list(args[0], key, value, where, dirs)
    if origin is dict:
        table = _table(value, where)
        if args[1] is str and not key.kind:
            if not all(isinstance(v, str) for v in table.values()):
                raise ConfigError(f"{where} must map names to strings, got {value!r}")
            return dict(table)
        return {str(k): _read(args[1], key, v, f"{where}.{k}", dirs) for k, v in table.items()}
    if is_dataclass(hint):
        assert isinstance(hint, type)
        return hint(**_read_table(hint, value, where, dirs))
    if hint is Path:
        text = _string(value, where, _NO_KEY)
        return (dirs.targets / text).resolve() if key.kind == "dir" else dirs.logs / text
    return _string(value, where, key)


def _read_list(item: Any, key: Key, value: Any, where: str, dirs: _Dirs) -> tuple[Any, ...]:
    if key.kind == "named_tables":  # [X.sources] name = { ... }: the table's key is the item's name
        return tuple(item(**_read_table(item, spec, f"{where}.{name}", dirs, name=name))
                     for name, spec in _table(value, where).items())
    if item is float:
        if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                                  for v in value):
            raise ConfigError(f"{where} must be a list of numbers like [52.52, 13.40], got {value!r}")
        return tuple(float(v) for v in value)
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
    if item is Path:
        return tuple(_read(Path, key, v, where, dirs) for v in value)
    return tuple(_string(v, where, key, item=True) for v in value)


def _string(value: Any, where: str, key: Key, item: bool = False) -> str:
    """A string of its kind; ``item``: one of a list's (the message quotes it after the key)."""
    if key.kind == "text":
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
    kind = key.kind
    if kind == "url" or (kind == "url_or_path" and "://" in value):
        return check_url(value, where)
    if kind in ("route", "url_or_path") and not value.startswith("/"):
        also = " or an http(s) URL" if kind == "url_or_path" else ""
        raise ConfigError(f"{where}: {value!r} must be a path starting with '/'{also}")
    if kind == "sql_name" and not _SQL_NAME.fullmatch(value):
        raise ConfigError(f"{where} must be an SQL name like 'events', got {value!r}")
    if kind == "env_name" and not _NAME.fullmatch(value):
        raise ConfigError(f"{where} must be an environment variable name like API_KEY, got {value!r}")
    return value


def _target(name: str, raw: Any, defaults: Mapping[str, Any], base_dir: Path) -> Target:
    """One [targets.NAME] table: every key read by its Target field (``_read``), plus the rules across keys."""
    where = f"targets.{name}"
    spec = {**defaults, **_table(raw, where)}
    if ("base_url" in spec) == ("stack" in spec):
        raise ConfigError(f"{where} needs exactly one of base_url = \"https://...\" or stack = \".demo\" (the demo)")
    dirs = _Dirs(base_dir, base_dir)
    if "stack" in spec:  # the demo's logs are relative to its state dir
        dirs = _Dirs(base_dir, _read(Path, DIR, spec["stack"], f"{where}.stack", dirs))
    spec, zones = _log_timezones(spec, where)
    values = _read_table(Target, spec, where, dirs, name=name)
    values["log_timezones"] = {dirs.logs / text: zone for text, zone in zones.items()}
    values.setdefault("base_url", None)
    values.setdefault("logs", tuple(dirs.logs / p for p in Target.logs))
    if values.get("stack") and "app_processes" not in spec:  # the demo runs on this machine: its app can be seen
        values["app_processes"] = (f"fixtures.demo.app --state-dir {values['stack']}",)
    for waiver in values.get("waivers", ()):
        if not waiver.reason.strip() or waiver.expires is None:
            raise ConfigError(f"{where}.waivers.{json.dumps(waiver.check)}: a waiver needs reason = \"why it is "
                              "accepted\" and expires = YYYY-MM-DD (its last day); it has "
                              + ("neither" if waiver.expires is None and not waiver.reason.strip()
                                 else "no expires" if waiver.expires is None else "no reason"))
    return Target(**values)


def _log_timezones(spec: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``logs = ["a.log", { path = "b.log", timezone = "America/New_York" }]``: the list as plain paths, and the
    timezone of each log given with one (an IANA name, checked here: an unknown one is a configuration error)."""
    spec = dict(spec)
    logs = spec.get("logs")
    if not isinstance(logs, list):
        return spec, {}
    paths: list[Any] = []
    zones: dict[str, str] = {}
    for item in logs:
        if not isinstance(item, Mapping):
            paths.append(item)
            continue
        _check_keys(item, {"path", "timezone"}, f"{where}.logs")
        path, zone = item.get("path"), item.get("timezone")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{where}.logs: {dict(item)!r} needs path = \"logs/app.log\" (and timezone = ...)")
        if zone is not None:
            zones[path] = check_timezone(zone, f"{where}.logs ({path})")
        paths.append(path)
    spec["logs"] = paths
    return spec, zones


def check_timezone(value: Any, where: str) -> str:
    """An IANA timezone name this machine knows (``America/New_York``, ``Europe/Berlin``, ``UTC``)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: timezone must be a name like \"America/New_York\", got {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"{where}: unknown timezone {value!r}: use an IANA name like \"America/New_York\", "
                          "\"Europe/Berlin\" or \"UTC\"") from None
    return value


def load_targets(path: Path) -> dict[str, Target]:
    """Every target in the file, validated; raises ConfigError with a one-line message."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: create it (see README.md, 'Configuration') or pass --targets-file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    _check_keys(raw, {"defaults", "targets"}, path.name)
    defaults = _table(raw.get("defaults", {}), "defaults")
    targets = _table(raw.get("targets", {}), "targets")
    if not targets:
        raise ConfigError(f"{path} defines no targets: add a [targets.NAME] table with base_url = \"https://...\"")
    base_dir = path.resolve().parent
    try:
        return {name: _target(name, spec, defaults, base_dir) for name, spec in targets.items()}
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def load_target(path: Path, name: str, base_url: str | None = None) -> Target:
    targets = load_targets(path)
    if name not in targets:
        raise ConfigError(f"unknown target {name!r} in {path.name}: choose one of {', '.join(targets)} with --target")
    target = targets[name]
    return target.with_base_url(base_url) if base_url else target
