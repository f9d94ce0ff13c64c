"""targets.toml: every mistake is one line naming the problem and the fix."""

from dataclasses import fields, is_dataclass
from datetime import date
from pathlib import Path
from typing import get_args, get_origin

import pytest

from scenescout_ir.core.conditions import declared_limits
from scenescout_ir.core.config import Source, Target, Waiver, _fields, load_target, load_targets, parse_duration
from scenescout_ir.core.outcomes import ConfigError

GOOD = """
[targets.production]
base_url = "https://scenescout.app/"
dsn_env = "PROD_DSN"
logs = ["/var/log/app.log"]
secret_env = ["TM_KEY"]
[targets.production.sources]
ticketmaster = { max_age = "30m" }
[targets.production.thresholds]
stuck_transaction_s = "5m"
connection_saturation = 0.9
log_min_errors = 3
[targets.production.events]
table = "public.events"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    return path


def test_a_complete_target_is_read_into_typed_values(tmp_path):
    target = load_target(write(tmp_path, GOOD), "production")
    assert target.base_url == "https://scenescout.app/"  # as written: a trailing slash can be part of a path
    assert target.sources[0].name == "ticketmaster" and target.sources[0].max_age_s == 1800
    assert target.thresholds.stuck_transaction_s == 300
    assert target.thresholds.connection_saturation == 0.9
    assert target.thresholds.log_min_errors == 3 and isinstance(target.thresholds.log_min_errors, int)
    assert target.events.table == "public.events" and target.events.source_column == "source"
    assert target.logs == (Path("/var/log/app.log"),)
    assert target.health_endpoints == ("/health", "/api/health")


def test_the_repository_targets_file_is_valid():
    targets = load_targets(Path(__file__).parents[2] / "targets.toml")
    assert targets["demo"].is_demo and len(targets["demo"].sources) == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[targets.x]\nbase_url = 'ftp://h'", "targets.x.base_url must be an http(s) URL"),
        ("[targets.x]\nbase_url = 'not a url'", "must be an http(s) URL with a host"),
        ("[targets.x]\nbase_url = 'https://h'\nthresholds = { stuck = 3 }", "unknown key 'stuck'"),
        ("[targets.x]\nbase_url = 'https://h'\nthresholds = { disk_used_pct = 'lots' }", "must be a number"),
        ("[targets.x]\nbase_url = 'https://h'\nthresholds = { stuck_transaction_s = 'soon' }", "must be a duration"),
        ("[targets.x]\nbase_url = 'https://h'\nroutes = ['map']", "must be a path starting with '/'"),
        ("[targets.x]\nbase_url = 'https://h'\nevents = { table = 'events; drop' }", "must be an SQL name"),
        ("[targets.x]\n", "needs exactly one of base_url"),
        ("[targets.x]\nbase_url = 'https://h'\nsecret_env = 'X'", "must be a list of non-empty strings"),
        ("[targets]\n", "defines no targets"),
        ("[targets.x\nbase_url=", "is not valid TOML"),
        ("[target.x]\nbase_url = 'https://h'", "unknown key 'target'"),
    ],
)
def test_mistakes_give_one_line_naming_the_problem(tmp_path, text, expected):
    with pytest.raises(ConfigError) as excinfo:
        load_targets(write(tmp_path, text))
    message = str(excinfo.value)
    assert expected in message
    assert "\n" not in message


def test_a_missing_file_says_how_to_create_it(tmp_path):
    with pytest.raises(ConfigError, match="not found: create it"):
        load_targets(tmp_path / "nope.toml")


def test_an_unknown_target_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown target 'staging'.*choose one of production"):
        load_target(write(tmp_path, GOOD), "staging")


def test_base_url_override_is_validated(tmp_path):
    target = load_target(write(tmp_path, GOOD), "production", base_url="http://127.0.0.1:8080/")
    assert target.base_url == "http://127.0.0.1:8080/"
    with pytest.raises(ConfigError, match="--base-url must be an http"):
        load_target(write(tmp_path, GOOD), "production", base_url="localhost:8080")


def test_an_unset_dsn_variable_names_the_variable_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("PROD_DSN", raising=False)
    target = load_target(write(tmp_path, GOOD), "production")
    with pytest.raises(ConfigError, match=r"PROD_DSN is not set: export PROD_DSN=postgresql://"):
        target.resolve_dsn()


def test_the_demo_target_never_uses_an_exported_database_url(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://prod:secret@prod-db/scenescout")
    (tmp_path / "stack.json").write_text('{"base_url": "http://127.0.0.1:1", "dsn": "postgresql://demo@h/d"}')
    target = Target(name="demo", base_url=None, stack=tmp_path)
    assert target.resolve_dsn() == "postgresql://demo@h/d"


def test_a_demo_target_without_a_running_stack_says_how_to_start_it(tmp_path):
    target = Target(name="demo", base_url=None, stack=tmp_path)
    with pytest.raises(ConfigError, match="demo stack is not running.*make demo"):
        target.resolve_base_url()


def test_secrets_include_the_dsn_and_the_named_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("PROD_DSN", "postgresql://u:pw1234@h/d")
    monkeypatch.setenv("TM_KEY", "tm-key-value")
    secrets = load_target(write(tmp_path, GOOD), "production").secrets()
    assert "tm-key-value" in secrets and "postgresql://u:pw1234@h/d" in secrets


@pytest.mark.parametrize(("value", "seconds"), [(30, 30), ("30s", 30), ("5m", 300), ("1.5h", 5400), ("250ms", 0.25)])
def test_durations(value, seconds):
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["0", -1, True, "5 parsecs", ""])
def test_bad_durations(value):
    with pytest.raises(ConfigError):
        parse_duration(value, "x")


def test_a_demo_target_reads_what_its_stack_exports_when_the_variable_is_unset(tmp_path, monkeypatch):
    """The demo stack exports its data API's key in stack.json's env, as an operator would export it; a variable
    that is set wins, and either way the value is a secret."""
    import json

    from scenescout_ir.core.config import load_targets

    stack = tmp_path / ".demo"
    stack.mkdir()
    (stack / "stack.json").write_text(json.dumps({"base_url": "http://127.0.0.1:1", "dsn": "postgresql://u:pw@h/db",
                                                  "env": {"DEMO_KEY": "anon-from-stack"}}))
    (tmp_path / "t.toml").write_text('[targets.demo]\nstack = ".demo"\nbackend_origins = ["http://127.0.0.1:2"]\n'
                                     'backend_headers_env = { apikey = "DEMO_KEY" }\n')
    target = load_targets(tmp_path / "t.toml")["demo"]
    monkeypatch.delenv("DEMO_KEY", raising=False)
    assert target.headers_for("http://127.0.0.1:2/rest/v1/") == {"apikey": "anon-from-stack"}
    assert target.headers_for("http://127.0.0.1:1/health") == {}  # not a backend origin: no key sent
    assert "anon-from-stack" in target.secrets()
    monkeypatch.setenv("DEMO_KEY", "exported")
    assert target.headers_for("http://127.0.0.1:2/rest/v1/") == {"apikey": "exported"}


# --- every key is a dataclass field, read by one reader from its type --------------------------------------------

SAMPLE_BY_KIND = {"url": "https://other.example/x/", "url_or_path": "/status", "route": "/about", "sql_name": "col_x",
                  "env_name": "SOME_VAR", "text": "any text", "file": "logs/other.log", "dir": "state"}


def toml(value):
    """A Python value as a TOML literal (enough for the suite's keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    assert isinstance(value, dict), value
    return "{ " + ", ".join(f"{toml(k)} = {toml(v)}" for k, v in value.items()) + " }"


def sample(hint, key, default):
    """A valid value for a field that differs from its default."""
    if get_origin(hint) is not None and type(None) in get_args(hint):
        hint = next(a for a in get_args(hint) if a is not type(None))
    if hint is bool:
        return not default
    if hint is date:
        return date(2027, 1, 31)
    if hint is int:
        return default + 7
    if hint is float:
        return default + 0.5
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        return [1.5, 2.5] if item is float else [SAMPLE_BY_KIND.get(key.kind, "value_x")]
    if get_origin(hint) is dict:
        if get_args(hint)[1] is not str:
            return {"site": ["database"]}
        return {"X-Key": SAMPLE_BY_KIND.get(key.kind, "value")}
    return SAMPLE_BY_KIND.get(key.kind, "value_x")


def wrong(hint):
    """A value of the wrong type for a field."""
    if get_origin(hint) is not None and type(None) in get_args(hint):
        hint = next(a for a in get_args(hint) if a is not type(None))
    if hint is bool:
        return '"yes"'
    if hint in (int, float):
        return '"lots"'
    if get_origin(hint) is tuple:
        return '"not a list"'
    if get_origin(hint) is dict or is_dataclass(hint):
        return "5"
    return "42"


def config_keys():
    """(dotted key under targets.x, type, Key, default) of every field read from targets.toml."""
    out = []
    for name, hint, key, default in _fields(Target):
        # the table's name; stack and base_url exclude each other; a derived field is filled from another key
        if key.table_name or key.derived or name == "stack":
            continue
        if key.kind == "named_tables":  # [X.sources.s], [X.waivers.w]: one table per item, named by its key
            item = f"{name}.{name[0]}."
            out += [(item + n, h, k, d) for n, h, k, d in _fields(get_args(hint)[0]) if not k.table_name]
        elif is_dataclass(hint):
            out += [(f"{name}.{n}", h, k, d) for n, h, k, d in _fields(hint) if k.kind != "condition_limits"]
        else:
            out.append((name, hint, key, default))
    return out


def test_every_field_of_target_and_its_sections_is_a_key_of_targets_toml(tmp_path):
    """No second list of known keys: each dataclass field is accepted, with a value of its own kind, and read."""
    tables: dict[str, list[str]] = {"": []}
    for dotted, hint, key, default in config_keys():
        table, _, leaf = dotted.rpartition(".")
        tables.setdefault(table, []).append(f"{leaf} = {toml(sample(hint, key, default))}")
    text = "\n".join(f"[targets.x{'.' + t if t else ''}]\n" + "\n".join(lines) for t, lines in tables.items())
    target = load_targets(write(tmp_path, text))["x"]
    assert target.routes == ("/about",) and target.dsn_env == "SOME_VAR" and target.description == "any text"
    assert target.logs == (tmp_path / "logs/other.log",) and target.ingestion_log == tmp_path / "logs/other.log"
    assert target.thresholds.disk_used_pct == 90.5 and target.thresholds.log_min_errors == 12
    assert target.integrity.job_runs_table == "col_x" and target.browser.geolocation == (1.5, 2.5)
    assert target.sources[0].name == "s" and target.sources[0].api_key_env == "SOME_VAR"
    assert target.dependencies == {"site": ("database",)} and target.host_checks is False
    defaults = Target(name="d", base_url=None)
    for dotted, *_ in config_keys():  # every key was read, none ignored
        parts = dotted.replace("sources.s.", "sources.0.").replace("waivers.w.", "waivers.0.").split(".")
        named = {"sources": Source, "waivers": Waiver}.get(parts[0]) if parts[1:2] == ["0"] else None
        value, default = target, defaults if named is None else None
        for part in parts:
            value = value[int(part)] if part.isdigit() else getattr(value, part)
        if default is not None:
            for part in parts:
                default = getattr(default, part)
        else:
            default = next(f.default for f in fields(named) if f.name == parts[-1])
        assert value != default, f"{dotted} was not read"


@pytest.mark.parametrize(("dotted", "hint"), [(d, h) for d, h, *_ in config_keys()], ids=[d for d, *_ in config_keys()])
def test_a_wrong_type_for_any_key_is_one_line_naming_the_key(tmp_path, dotted, hint):
    table, _, leaf = dotted.rpartition(".")
    text = "[targets.x]\nbase_url = 'https://h'\n" if dotted != "base_url" else "[targets.x]\n"
    text += (f"[targets.x.{table}]\n" if table else "") + f"{leaf} = {wrong(hint)}\n"
    with pytest.raises(ConfigError) as excinfo:
        load_targets(write(tmp_path, text))
    message = str(excinfo.value)
    assert f"targets.x.{dotted}" in message and "\n" not in message and "must" in message, message


@pytest.mark.parametrize("section", ["thresholds", "timeouts", "browser", "integrity", "performance", "budget",
                                     "events", "sources"])
def test_a_section_that_is_not_a_table_names_the_section(tmp_path, section):
    with pytest.raises(ConfigError, match=rf"targets\.x\.{section} must be a table"):
        load_targets(write(tmp_path, f"[targets.x]\nbase_url = 'https://h'\n{section} = 5\n"))


@pytest.mark.parametrize(("text", "expected"), [
    ("performance = { samples = 0 }", "targets.x.performance.samples must be at least 1"),
    ("dsn_env = 'not a name'", "targets.x.dsn_env must be an environment variable name"),
    ("backend_headers_env = { apikey = 'a b' }", "targets.x.backend_headers_env.apikey must be an environment"),
    ("health_endpoints = ['health']", "must be a path starting with '/' or an http(s) URL"),
    ("health_endpoints = ['ftp://x']", "targets.x.health_endpoints must be an http(s) URL"),
    ("backend_origins = ['nope']", "targets.x.backend_origins must be an http(s) URL"),
    ("browser = { route_cards = { '/v' = 3 } }", "targets.x.browser.route_cards must map names to strings"),
    ("sources = { s = { max_age = 'soon' } }", "targets.x.sources.s.max_age_s must be a duration"),
    ("sources = { s = { upstream_url = 'x' } }", "targets.x.sources.s.upstream_url: 'x' must be a path"),
    ("integrity = { job_error_column = 'x;y' }", "targets.x.integrity.job_error_column must be an SQL name"),
])
def test_each_kind_of_key_says_what_to_write(tmp_path, text, expected):
    with pytest.raises(ConfigError) as excinfo:
        load_targets(write(tmp_path, f"[targets.x]\nbase_url = 'https://h'\n{text}\n"))
    assert expected in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_paths_are_relative_to_the_stack_or_the_targets_file_and_the_demo_sees_its_app(tmp_path):
    text = ("[targets.demo]\nstack = '.demo'\nlogs = ['a.log']\n"
            "[targets.prod]\nbase_url = 'https://h'\nlogs = ['a.log']\ningestion_log = '/var/log/i.log'\n"
            "[targets.bare]\nbase_url = 'https://h'\n")
    targets = load_targets(write(tmp_path, text))
    assert targets["demo"].stack == tmp_path / ".demo" and targets["demo"].logs == (tmp_path / ".demo/a.log",)
    assert targets["demo"].app_processes == (f"fixtures.demo.app --state-dir {tmp_path / '.demo'}",)
    assert targets["prod"].logs == (tmp_path / "a.log",) and targets["prod"].ingestion_log == Path("/var/log/i.log")
    assert targets["prod"].app_processes == () and targets["bare"].logs[0] == tmp_path / "logs/application.log"


@pytest.fixture
def a_condition_with_limits(monkeypatch):
    """A condition added to the table as a user would add one, declaring its limits."""
    from scenescout_ir.core import conditions

    new = conditions.Condition("example", "Minor configuration issues", conditions.Severity.SEV4, "site", "x", "y",
                               limits={"example_days": 14, "example_wait_s": 60.0})
    monkeypatch.setattr(conditions, "_TABLE", (*conditions._TABLE, new))


def test_a_limit_a_condition_declares_is_set_in_thresholds_and_read_by_one_accessor(tmp_path, a_condition_with_limits):
    """A new condition's limit needs no change to config.py: declared in the conditions table, accepted in
    [targets.X.thresholds], validated like the fields (a name ending in _s is a duration)."""
    default = load_target(write(tmp_path, "[targets.x]\nbase_url = 'https://h'\n"), "x")
    assert default.thresholds.limit("example_days") == 14 and default.thresholds.limit("example_wait_s") == 60
    target = load_target(write(tmp_path, "[targets.x]\nbase_url = 'https://h'\n[targets.x.thresholds]\n"
                                         "example_days = 30\nexample_wait_s = '5m'\ndisk_used_pct = 80\n"), "x")
    assert target.thresholds.limit("example_days") == 30 and isinstance(target.thresholds.limit("example_days"), int)
    assert target.thresholds.limit("example_wait_s") == 300 and target.thresholds.limit("disk_used_pct") == 80
    assert target.thresholds.disk_used_pct == 80  # the fields stay attributes
    with pytest.raises(KeyError, match="declare it in a Condition's limits"):
        target.thresholds.limit("no_such_limit")


@pytest.mark.parametrize(("text", "expected"), [
    ("example_days = 'soon'", "targets.x.thresholds.example_days must be a number"),
    ("example_days = -1", "targets.x.thresholds.example_days must not be negative"),
    ("example_wait_s = 'soon'", "targets.x.thresholds.example_wait_s must be a duration"),
    ("exampel_days = 3", "unknown key 'exampel_days' (known keys: api_error_ratio, api_min_requests, blocking_wait_s"),
])
def test_a_declared_limit_is_validated_like_the_fields(tmp_path, a_condition_with_limits, text, expected):
    with pytest.raises(ConfigError) as excinfo:
        load_targets(write(tmp_path, f"[targets.x]\nbase_url = 'https://h'\n[targets.x.thresholds]\n{text}\n"))
    assert expected in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_declared_limits_do_not_shadow_the_thresholds_fields():
    field_names = {f.name for f in fields(Target.__dataclass_fields__["thresholds"].default_factory())}
    assert not set(declared_limits()) & field_names


def test_the_commented_production_example_is_valid_once_uncommented(tmp_path):
    text = (Path(__file__).parents[2] / "targets.toml").read_text()
    head, example = text.split("# A real deployment, commented out: uncomment and adapt.")
    lines = [line[2:] if line.startswith("# ") else "" if line.startswith("#") else line
             for line in example.splitlines()]
    target = load_targets(write(tmp_path, head + "\n".join(lines)))["production"]
    assert target.base_url == "https://scenescout.app" and target.sources[1].api_key_param == "token"
    assert target.integrity.job_failure_runs == 3 and target.thresholds.log_window_s == 900


def test_a_target_declared_without_a_database_asks_for_no_dsn(tmp_path, monkeypatch):
    """Issue 15: database = false (a front-end-only target); any other value than a boolean is an error."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://oncall:pw@db.internal/scenescout")  # set, yet never used
    target = load_target(write(tmp_path, '[targets.preview]\nbase_url = "https://x.example"\ndatabase = false\n'),
                         "preview")
    assert target.no_database == "no database to check (targets.preview.database = false)"
    with pytest.raises(ConfigError, match=r"targets\.preview\.database = false"):
        target.resolve_dsn()
    assert load_target(write(tmp_path, '[targets.p]\nbase_url = "https://x.example"\n'), "p").no_database is None
    with pytest.raises(ConfigError, match="database"):
        load_target(write(tmp_path, '[targets.p]\nbase_url = "https://x.example"\ndatabase = "no"\n'), "p")
