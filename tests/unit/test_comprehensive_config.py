"""The configuration the comprehensive checks read: integrity names, the baseline path, upstream URLs."""

from pathlib import Path

import pytest

from scenescout_ir.core.config import load_target
from scenescout_ir.core.outcomes import ConfigError


def target_from(tmp_path: Path, text: str):
    path = tmp_path / "targets.toml"
    path.write_text('[targets.t]\nbase_url = "https://scenescout.app"\n' + text)
    return load_target(path, "t", None)


def test_the_baseline_file_is_a_path_and_job_names_are_values_not_sql_names(tmp_path):
    target = target_from(tmp_path, """
[targets.t.integrity]
baseline_file = "/var/lib/scenescout-ir/baseline.json"
job_prefix = "ingest-"
job_success = "succeeded"
job_runs_table = "ops.job_runs"
""")
    assert target.integrity.baseline_file == "/var/lib/scenescout-ir/baseline.json"
    assert (target.integrity.job_prefix, target.integrity.job_success) == ("ingest-", "succeeded")
    assert target.integrity.job_runs_table == "ops.job_runs"


def test_table_and_column_names_are_still_checked_as_sql_names(tmp_path):
    with pytest.raises(ConfigError, match="job_runs_table must be an SQL name"):
        target_from(tmp_path, '[targets.t.integrity]\njob_runs_table = "job_runs; DROP TABLE events"\n')


def test_upstream_urls_are_absolute_or_relative_to_the_site(tmp_path):
    target = target_from(tmp_path, """
[targets.t.sources]
a = { upstream_url = "/upstream/a/events" }
b = { upstream_url = "https://api.example.com/v1/events", api_key_env = "B_KEY", api_key_header = "X-Key" }
""")
    a, b = target.sources
    assert a.upstream_url == "/upstream/a/events"
    assert (b.upstream_url, b.api_key_env, b.api_key_header) == ("https://api.example.com/v1/events", "B_KEY", "X-Key")
