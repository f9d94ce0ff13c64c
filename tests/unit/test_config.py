"""targets.toml: every mistake is one line naming the problem and the fix."""

from pathlib import Path

import pytest

from scenescout_ir.config import Target, load_target, load_targets, parse_duration
from scenescout_ir.outcomes import ConfigError

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

    from scenescout_ir.config import load_targets

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
