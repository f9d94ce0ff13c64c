"""Issue 8 items 7 and 8, the pure parts: a job run judged by failure words, its error text, a source's
latest ingestion log lines (plain and pino), the configuration keys, and one rule for a route's failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scenescout_ir.core.conditions import CONDITIONS, Severity
from scenescout_ir.core.config import Integrity, load_target
from scenescout_ir.core.outcomes import ConfigError, CouldNotRun
from scenescout_ir.judge.jobs import job_error_text, job_in_progress, job_run_failed, recent_job_runs
from scenescout_ir.judge.routes import route_condition
from scenescout_ir.probes.db import QueryResult
from scenescout_ir.probes.source_logs import line_message, tail_mentions

FAILURES = Integrity().job_failure_statuses


@pytest.mark.parametrize("status", ["failed", "FAILED", "Error", "errored", "timeout", "timed_out", "crashed",
                                    "aborted", "failure", " failed "])
def test_failure_words_are_failures_in_any_case(status):
    assert job_run_failed(status, FAILURES)


@pytest.mark.parametrize("status", ["success", "completed", "ok", "done", "partial", "Succeeded", "", None])
def test_other_words_are_not_failures_so_no_schema_needs_configuration(status):
    assert not job_run_failed(status, FAILURES)


def test_running_runs_are_in_progress_not_judged():
    assert job_in_progress("running") and job_in_progress("Queued") and not job_in_progress("failed")


def test_the_error_text_comes_from_the_configured_column_or_any_error_column():
    run = {"id": 7, "status": "errored", "error_message": "HTTP 429 Too Many Requests", "error_count": 0}
    assert job_error_text(run) == "HTTP 429 Too Many Requests"
    assert job_error_text({"details": "boom", "error": None}, "details") == "boom"
    assert job_error_text({"status": "failed"}) == ""
    assert job_error_text({"error": {"message": "quota exceeded", "code": 429}}) == "quota exceeded"


# --- the job runs of a source, read through a stand-in database -----------------------------------------


class FakeDb:
    def __init__(self, rows=None, error: str | None = None) -> None:
        self.rows, self.error, self.asked = rows or [], error, []

    def query(self, name, params=None, **identifiers):
        self.asked.append((name, params, identifiers))
        if self.error:
            raise CouldNotRun(self.error)
        columns = ["status", "started_at", "run"]
        return QueryResult(name, columns, [tuple(r[c] for c in columns) for r in self.rows], 0.0)


def target(tmp_path: Path, extra: str = ""):
    path = tmp_path / "targets.toml"
    path.write_text('[targets.t]\nbase_url = "https://scenescout.app"\n'
                    '[targets.t.sources]\neventbrite = {}\n' + extra)
    return load_target(path, "t", None)


def runs(*statuses: str, error: str = "upstream request failed: HTTP 429 Too Many Requests"):
    at = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    return [{"status": s, "started_at": at, "run": {"status": s, "error": error if s != "success" else None}}
            for s in statuses]


def test_the_last_n_runs_all_failed_is_a_burst_and_running_ones_are_left_out(tmp_path):
    t = target(tmp_path)
    db = FakeDb(runs("running", "failed", "errored", "timeout", "success"))
    history = recent_job_runs(db, t, t.sources[0])
    assert history.job == "ingest_eventbrite" and history.all_failed and history.in_progress == 1
    assert [r.status for r in history.runs] == ["failed", "errored", "timeout"]
    assert history.latest_error() == "upstream request failed: HTTP 429 Too Many Requests"
    assert db.asked[0][1] == {"job": "ingest_eventbrite", "limit": 13}


def test_some_runs_failing_is_no_burst_and_n_is_configurable(tmp_path):
    assert not recent_job_runs(FakeDb(runs("failed", "success", "failed")), target(tmp_path),
                               target(tmp_path).sources[0]).all_failed
    two = target(tmp_path, "[targets.t.integrity]\njob_failure_runs = 2\n")
    assert recent_job_runs(FakeDb(runs("failed", "failed", "success")), two, two.sources[0]).all_failed
    fewer = recent_job_runs(FakeDb(runs("failed")), two, two.sources[0])  # one run is not yet a burst
    assert not fewer.all_failed and len(fewer.failed) == 1


def test_other_status_words_raise_no_alarm(tmp_path):
    t = target(tmp_path)
    history = recent_job_runs(FakeDb(runs("completed", "ok", "done", "partial")), t, t.sources[0])
    assert not history.failed


def test_a_missing_table_or_column_could_not_run_with_the_keys_to_set(tmp_path):
    t = target(tmp_path)
    with pytest.raises(CouldNotRun, match=r'relation "job_runs" does not exist \(name the job runs table.*'
                                          r"targets\.t\.integrity: job_runs_table"):
        recent_job_runs(FakeDb(error='recent_job_runs: relation "job_runs" does not exist'), t, t.sources[0])
    with pytest.raises(CouldNotRun, match="^database unreachable$"):  # a dead database is said as it is
        recent_job_runs(FakeDb(error="database unreachable"), t, t.sources[0])
    with pytest.raises(CouldNotRun, match="no job_runs row for job 'ingest_eventbrite'"):
        recent_job_runs(FakeDb([]), t, t.sources[0])


# --- the ingestion log ------------------------------------------------------------------------------------


def test_the_latest_lines_naming_a_source_plain_text(tmp_path):
    log = tmp_path / "ingestion.log"
    lines = [f"2026-11-28T09:00:{i:02d}.000Z INFO ingest_meetup: inserted 2 events" for i in range(60)]
    lines += ["2026-11-28T09:01:00.000Z ERROR ingest_eventbrite: job failed, nothing inserted: "
              "upstream request failed: HTTP 429 Too Many Requests",
              "2026-11-28T09:01:01.000Z INFO ingest_Eventbrite: retry scheduled"]
    log.write_text("\n".join(lines) + "\n")
    tail = tail_mentions(log, "eventbrite")
    assert len(tail.lines) == 2 and len(tail.errors) == 1
    assert "HTTP 429 Too Many Requests" in tail.latest_error()
    assert len(tail_mentions(log, "meetup").lines) == 50  # --limit 50
    assert ">> 2026-11-28T09:01:00.000Z ERROR ingest_eventbrite" in tail.evidence().text


def test_the_latest_lines_naming_a_source_pino_json_and_a_bounded_tail(tmp_path):
    log = tmp_path / "ingest.log"
    filler = [json.dumps({"level": 30, "time": 1764320000000 + i, "msg": "inserted", "source": "songkick"})
              for i in range(2000)]
    bad = json.dumps({"level": 50, "time": 1764320999000, "source": "songkick", "msg": "ingestion failed",
                      "err": {"type": "Error", "message": "HTTP 503 Service Unavailable"}})
    log.write_text("\n".join([*filler, bad]) + "\n")
    tail = tail_mentions(log, "songkick", limit=50, max_bytes=2048)
    assert tail.bytes_read == 2048 and len(tail.lines) < 30  # only the tail was read
    assert tail.latest_error() == "ingestion failed: HTTP 503 Service Unavailable"
    assert all(line.text.startswith("{") for line in tail.lines)  # no line cut in half


def test_a_missing_log_could_not_run():
    with pytest.raises(CouldNotRun, match="does not exist"):
        tail_mentions(Path("/nonexistent/ingestion.log"), "meetup")


def test_line_message_reads_json_or_keeps_plain_text():
    assert line_message('{"level":50,"msg":"quota exceeded","source":"x"}') == "quota exceeded"
    assert line_message('{"level":50,"error":"timeout"}') == "timeout"
    assert line_message("  plain  text ") == "plain text"


# --- configuration ------------------------------------------------------------------------------------------


def test_the_ingestion_log_defaults_to_a_configured_log_named_like_ingestion(tmp_path):
    t = target(tmp_path, "")
    assert t.ingestion_log_path() == tmp_path / "logs" / "ingestion.log"
    path = tmp_path / "targets.toml"
    path.write_text('[targets.t]\nbase_url = "https://x.example"\nlogs = ["app.log", "ingest-worker.log"]\n')
    assert load_target(path, "t").ingestion_log_path() == tmp_path / "ingest-worker.log"
    path.write_text('[targets.t]\nbase_url = "https://x.example"\nlogs = ["app.log"]\n')
    assert load_target(path, "t").ingestion_log_path() is None
    path.write_text('[targets.t]\nbase_url = "https://x.example"\nlogs = ["app.log"]\ningestion_log = "jobs.log"\n')
    assert load_target(path, "t").ingestion_log_path() == tmp_path / "jobs.log"


def test_job_keys_and_their_checks(tmp_path):
    t = target(tmp_path, '[targets.t.integrity]\njob_failure_statuses = ["KO", "broken"]\njob_failure_runs = 5\n'
                         'job_error_column = "last_error"\n')
    assert t.integrity.job_failure_statuses == ("KO", "broken") and t.integrity.job_failure_runs == 5
    assert t.integrity.job_error_column == "last_error"
    with pytest.raises(ConfigError, match="job_failure_runs must be at least 1"):
        target(tmp_path, "[targets.t.integrity]\njob_failure_runs = 0\n")
    with pytest.raises(ConfigError, match="job_error_column must be an SQL name"):
        target(tmp_path, '[targets.t.integrity]\njob_error_column = "x; DROP"\n')


# --- one rule for a route's failure ----------------------------------------------------------------------------


def test_routes_are_critical_by_configuration_and_the_home_page_by_default(tmp_path):
    t = target(tmp_path)
    assert t.critical_routes == ("/",) and t.routes == ("/", "/discover", "/map", "/venues")
    path = tmp_path / "targets.toml"
    path.write_text('[targets.t]\nbase_url = "https://x.example"\ncritical_routes = ["/", "/checkout"]\n')
    assert load_target(path, "t").route_is_critical("/checkout")
    path.write_text('[targets.t]\nbase_url = "https://x.example"\ncritical_routes = []\n')
    assert not load_target(path, "t").route_is_critical("/")
    path.write_text('[targets.t]\nbase_url = "https://x.example"\ncritical_routes = ["checkout"]\n')
    with pytest.raises(ConfigError, match="must be a path starting with '/'"):
        load_target(path, "t")


@pytest.mark.parametrize("layer", ["site", "browser"])
def test_one_severity_for_a_route_whichever_check_judges_it(tmp_path, layer):
    t = target(tmp_path)
    home = CONDITIONS[route_condition(t, "/", layer)]
    secondary = CONDITIONS[route_condition(t, "/map", layer)]
    assert (home.severity, home.name) == (Severity.SEV2, "Partial system outage")
    assert (secondary.severity, secondary.name) == (Severity.SEV3, "Non-critical feature failures")


def test_a_burst_is_a_source_failure_and_a_blip_a_degradation():
    burst, blip = CONDITIONS["source_jobs_failing"], CONDITIONS["ingestion_job_failing"]
    assert (burst.severity, burst.name) == (Severity.SEV2, "Single API source failure")
    assert "Scenario 3" in burst.next_step and burst.escalates_to == "all_sources_stale"
    assert (blip.severity, blip.name) == (Severity.SEV3, "Single component degradation")
