"""targets.toml into typed, frozen objects, validated up front with errors that say what to do.

Every name the playbook uses (a table, a column, a log file, an endpoint) is configuration here, so a real
deployment that differs from the demo is described, not patched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .outcomes import ConfigError

DEFAULT_TARGETS_FILE = "targets.toml"
DEFAULT_TARGET = "demo"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


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
    disk_used_pct: float = 90.0
    memory_used_pct: float = 90.0
    load_per_core: float = 2.0
    response_slo_s: float = 2.0
    response_sev2_s: float = 10.0  # the playbook's SEV2 line: ">10 seconds response time"


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 3.0
    read_s: float = 5.0
    statement_s: float = 5.0
    dns_s: float = 3.0


@dataclass(frozen=True)
class Source:
    name: str
    max_age_s: float = 1800.0
    upstream_url: str | None = None  # the vendor API, e.g. https://app.ticketmaster.com/discovery/v2/events.json
    api_key_env: str | None = None  # the environment variable holding its key (never shown)
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
    job_runs_table: str = "job_runs"
    job_name_column: str = "job_name"
    job_status_column: str = "status"
    job_time_column: str = "started_at"
    job_prefix: str = "ingest_"
    job_success: str = "success"  # no longer judges a run (job_failure_statuses does); accepted for old files
    job_failure_statuses: tuple[str, ...] = (  # a run is failed when its status is one of these (any case)
        "failed", "failure", "error", "errored", "timeout", "timed_out", "crashed", "aborted",
    )
    job_failure_runs: int = 3  # a source whose last this many finished runs all failed: source_jobs_failing
    job_error_column: str | None = None  # the runs' error text; none: any column whose name contains "error"
    api_configurations_table: str = "api_configurations"
    api_source_column: str = "source"
    api_enabled_column: str = "enabled"


@dataclass(frozen=True)
class Performance:
    samples: int = 10  # requests per endpoint, as the playbook's `for i in {1..10}` loop
    sample_budget_s: float = 30.0  # total time the samples of one endpoint may take
    concurrency: int = 1  # sequential by default: never load a struggling site
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
class EventsTable:
    table: str = "events"
    source_column: str = "source"
    timestamp_column: str = "created_at"


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str | None  # None: the demo stack's URL, resolved when the stack runs
    health_endpoints: tuple[str, ...] = ("/health", "/api/health")
    routes: tuple[str, ...] = ("/", "/discover", "/map", "/venues")
    critical_routes: tuple[str, ...] = ("/",)  # a failing critical route is SEV2, any other route SEV3
    ingestion_log: Path | None = None  # None: the first of logs whose file name contains "ingest"
    dsn_env: str = "DATABASE_URL"
    logs: tuple[Path, ...] = (Path("logs/application.log"), Path("logs/ingestion.log"))
    sources: tuple[Source, ...] = ()
    events: EventsTable = field(default_factory=EventsTable)
    thresholds: Thresholds = field(default_factory=Thresholds)
    timeouts: Timeouts = field(default_factory=Timeouts)
    secret_env: tuple[str, ...] = ()
    host_checks: bool = True
    stack: Path | None = None  # the embedded demo stack's state dir
    description: str = ""
    backend_origins: tuple[str, ...] = ()  # other origins the front end calls (API, database service)
    backend_headers_env: dict[str, str] = field(default_factory=dict)  # header -> env var, sent to backend origins
    app_processes: tuple[str, ...] = ()  # command-line patterns of the app's processes, when run on its host
    auth_health_url: str | None = None
    payment_health_url: str | None = None
    browser: Browser = field(default_factory=Browser)
    integrity: Integrity = field(default_factory=Integrity)
    performance: Performance = field(default_factory=Performance)
    budget: Budget = field(default_factory=Budget)
    # component -> the components it depends on, over the default graph (scenescout_ir/causes.py)
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)

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

    def with_base_url(self, url: str) -> Target:
        return replace(self, base_url=check_url(url, "--base-url"))

    def resolve_base_url(self) -> str:
        """The URL the checks use; for the demo, read from the running stack."""
        if self.base_url:
            return self.base_url
        return str(self.demo_state()["base_url"])

    def resolve_dsn(self) -> str:
        """The database DSN, from the environment (or the demo stack); raises ConfigError with the fix."""
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
                 *self.backend_headers_env.values()]
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


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ConfigError(f"{where} must be a list of non-empty strings, got {raw!r}")
    return tuple(raw)


def _paths(raw: Any, where: str) -> tuple[str, ...]:
    values = _strings(raw, where)
    for value in values:
        if not value.startswith("/"):
            raise ConfigError(f"{where}: {value!r} must be a path starting with '/'")
    return values


def _number(raw: Any, where: str, kind: type = float) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where} must be a number, got {raw!r}")
    if raw < 0:
        raise ConfigError(f"{where} must not be negative, got {raw!r}")
    return kind(raw)


def _dataclass_from(cls: type, raw: Any, where: str) -> Any:
    table = _table(raw, where)
    names = {f.name: f for f in fields(cls)}
    _check_keys(table, set(names), where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        sql_name = cls in _SQL_NAMED and key not in _NOT_SQL_NAMES
        values[key] = _value(names[key].type, value, f"{where}.{key}", sql_names=sql_name)
        if key in _POSITIVE and values[key] < 1:
            raise ConfigError(f"{where}.{key} must be at least 1, got {value!r}")
    return cls(**values)


def _value(kind: Any, value: Any, where: str, sql_names: bool = False) -> Any:
    """One configuration value, checked against its dataclass field's (string) type."""
    if where.endswith("_s"):
        return parse_duration(value, where)
    if kind == "int":
        return _number(value, where, int)
    if kind == "float":
        return _number(value, where)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if kind.startswith("tuple[str"):
        return _strings(value, where)
    if kind.startswith("tuple[float"):
        if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
            raise ConfigError(f"{where} must be a list of numbers like [52.52, 13.40], got {value!r}")
        return tuple(float(v) for v in value)
    if kind.startswith("dict[str, str]"):
        table = _table(value, where)
        if not all(isinstance(v, str) for v in table.values()):
            raise ConfigError(f"{where} must map names to strings, got {value!r}")
        return dict(table)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
    if sql_names and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value):
        raise ConfigError(f"{where} must be an SQL name like 'events', got {value!r}")
    if kind == "str | None" and where.endswith("upstream_url") and value.startswith("/"):
        return value  # relative to the target's base URL (the demo's stand-in vendor APIs)
    if kind == "str | None" and where.endswith("_url"):
        return check_url(value, where)
    return value


def _sources(raw: Any, where: str) -> tuple[Source, ...]:
    table = _table(raw, where)
    sources = []
    for name, spec in table.items():
        spec_where = f"{where}.{name}"
        spec = dict(_table(spec, spec_where))
        if "max_age" in spec:  # the documented spelling; the field is in seconds
            spec["max_age_s"] = spec.pop("max_age")
        source = _dataclass_from(Source, {"name": name, **spec}, spec_where)
        sources.append(source)
    return tuple(sources)


_SQL_NAMED = (EventsTable, Integrity)
_NOT_SQL_NAMES = {"baseline_file", "job_prefix", "job_success"}  # a path and two values, in Integrity
_POSITIVE = {"job_failure_runs"}  # counts that must be at least 1
_SECTIONS: dict[str, type] = {
    "events": EventsTable, "thresholds": Thresholds, "timeouts": Timeouts, "browser": Browser,
    "integrity": Integrity, "performance": Performance, "budget": Budget,
}
_TARGET_KEYS = {
    "description", "base_url", "stack", "health_endpoints", "routes", "dsn_env", "logs", "sources",
    "secret_env", "host_checks", "backend_origins", "app_processes", "auth_health_url", "payment_health_url",
    *_SECTIONS,
}
_TARGET_KEYS |= {"critical_routes", "ingestion_log", "dependencies", "backend_headers_env"}


def _target(name: str, raw: Any, defaults: Mapping[str, Any], base_dir: Path) -> Target:
    where = f"targets.{name}"
    spec = {**defaults, **_table(raw, where)}
    _check_keys(spec, _TARGET_KEYS, where)
    if ("base_url" in spec) == ("stack" in spec):
        raise ConfigError(f"{where} needs exactly one of base_url = \"https://...\" or stack = \".demo\" (the demo)")
    kwargs: dict[str, Any] = {"name": name, "description": str(spec.get("description", ""))}
    if "base_url" in spec:
        kwargs["base_url"] = check_url(spec["base_url"], f"{where}.base_url")
    else:
        kwargs["base_url"] = None
        kwargs["stack"] = (base_dir / str(spec["stack"])).resolve()
    if "health_endpoints" in spec:  # paths on base_url, or URLs of their own (a data API on another origin)
        endpoints = _strings(spec["health_endpoints"], f"{where}.health_endpoints")
        for endpoint in endpoints:
            if "://" in endpoint:
                check_url(endpoint, f"{where}.health_endpoints")
            elif not endpoint.startswith("/"):
                raise ConfigError(f"{where}.health_endpoints: {endpoint!r} must be a path starting with '/' or an "
                                  "http(s) URL")
        kwargs["health_endpoints"] = endpoints
    if "routes" in spec:
        kwargs["routes"] = _paths(spec["routes"], f"{where}.routes")
    if "critical_routes" in spec:
        kwargs["critical_routes"] = _paths(spec["critical_routes"], f"{where}.critical_routes")
    if "dsn_env" in spec:
        if not isinstance(spec["dsn_env"], str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", spec["dsn_env"]):
            raise ConfigError(f"{where}.dsn_env must be an environment variable name, got {spec['dsn_env']!r}")
        kwargs["dsn_env"] = spec["dsn_env"]
    log_base = kwargs.get("stack") or base_dir
    if "logs" in spec:
        kwargs["logs"] = tuple((log_base / p) for p in _strings(spec["logs"], f"{where}.logs"))
    else:
        kwargs["logs"] = tuple(log_base / p for p in Target.logs)
    if "ingestion_log" in spec:
        kwargs["ingestion_log"] = log_base / _strings([spec["ingestion_log"]], f"{where}.ingestion_log")[0]
    if "sources" in spec:
        kwargs["sources"] = _sources(spec["sources"], f"{where}.sources")
    for section, cls in _SECTIONS.items():
        if section in spec:
            kwargs[section] = _dataclass_from(cls, spec[section], f"{where}.{section}")
    if "backend_origins" in spec:
        kwargs["backend_origins"] = tuple(
            check_url(u, f"{where}.backend_origins") for u in _strings(spec["backend_origins"], where)
        )
    for key in ("auth_health_url", "payment_health_url"):
        if key in spec:
            kwargs[key] = check_url(spec[key], f"{where}.{key}")
    for key in ("secret_env", "app_processes"):
        if key in spec:
            kwargs[key] = _strings(spec[key], f"{where}.{key}")
    if kwargs.get("stack") and "app_processes" not in spec:  # the demo runs on this machine: its app can be seen
        kwargs["app_processes"] = (f"fixtures.demo.app --state-dir {kwargs['stack']}",)
    if "backend_headers_env" in spec:
        table = _table(spec["backend_headers_env"], f"{where}.backend_headers_env")
        for header, env in table.items():
            if not isinstance(env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
                raise ConfigError(f"{where}.backend_headers_env.{header} must name an environment variable, "
                                  f"got {env!r}")
        kwargs["backend_headers_env"] = dict(table)
    if "dependencies" in spec:
        table = _table(spec["dependencies"], f"{where}.dependencies")
        kwargs["dependencies"] = {
            str(component): tuple(_strings(upstream, f"{where}.dependencies.{component}")) if upstream else ()
            for component, upstream in table.items()
        }
    if "host_checks" in spec:
        if not isinstance(spec["host_checks"], bool):
            raise ConfigError(f"{where}.host_checks must be true or false, got {spec['host_checks']!r}")
        kwargs["host_checks"] = spec["host_checks"]
    return Target(**kwargs)


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
