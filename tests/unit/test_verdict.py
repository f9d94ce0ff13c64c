"""The verdict: findings, the playbook's aggregate rules and the run's severity."""

import json
from dataclasses import replace

import pytest

from scenescout_ir.core.conditions import CONDITIONS, Severity
from scenescout_ir.judge.verdict import CheckRecord, Verdict, assemble, findings_of, read


def rec(check, outcome, condition, summary=""):
    return CheckRecord(nodeid=f"checks/x.py::{check}", check=check, outcome=outcome, condition=condition,
                       summary=summary)


def verdict(records, **extra):
    return assemble(records, target="t", base_url="http://x", started_at="a", finished_at="b", duration_s=1.0,
                    **extra)


SOURCES = ["ticketmaster", "eventbrite", "songkick", "meetup"]


def test_no_findings_is_ok():
    v = verdict([rec("a", "passed", "partial_outage"), rec("b", "passed", "log_errors")])
    assert v.severity is None and v.label == "OK" and v.headline == "VERDICT: OK"


def test_one_stale_source_is_a_single_api_source_failure_sev2():
    records = [rec(f"fresh[{s}]", "failed" if s == "meetup" else "passed", "source_stale") for s in SOURCES]
    v = verdict(records)
    assert v.label == "SEV2"
    assert [f.condition for f in v.findings] == ["Single API source failure"]
    assert v.headline == "VERDICT: SEV2 - High - respond within 30 minutes"


def test_all_sources_stale_is_a_major_ingestion_failure_sev1():
    v = verdict([rec(f"fresh[{s}]", "failed", "source_stale") for s in SOURCES])
    assert v.label == "SEV1"
    assert v.findings[0].condition == "Major data ingestion failure affecting all sources"
    assert len(v.findings) == 5


def test_every_user_facing_endpoint_down_is_a_complete_outage():
    down = [rec(c, "failed", "partial_outage") for c in ("site", "health[/health]", "health[/api/health]")]
    assert verdict(down).findings[0].condition == "Complete system outage"
    assert verdict(down).label == "SEV1"
    partly = down[:2] + [rec("health[/api/health]", "passed", "partial_outage")]
    assert verdict(partly).label == "SEV2"
    assert "Complete system outage" not in [f.condition for f in verdict(partly).findings]


def test_checks_that_could_not_run_neither_count_as_findings_nor_complete_a_group():
    records = [rec("fresh[a]", "failed", "source_stale"), rec("fresh[b]", "could_not_run", "source_stale", "db")]
    v = verdict(records)
    assert v.label == "SEV1"  # every source that could be checked is stale
    only_skips = verdict([rec("x", "could_not_run", "database_connection", "DATABASE_URL is not set")])
    assert only_skips.label == "OK" and only_skips.findings == []
    assert "incomplete: 1 of 1 checks could not run" in only_skips.headline


def test_broken_checks_are_suite_problems_not_findings():
    v = verdict([rec("x", "broken", "log_errors", "TypeError: boom")])
    assert v.findings == [] and v.broken == [{"check": "x", "reason": "TypeError: boom"}]


def test_a_finding_carries_the_playbook_condition_next_step_and_severity():
    (finding,) = findings_of([rec("test_stuck_transactions", "failed", "stuck_transactions", "2 open")])
    cond = CONDITIONS["stuck_transactions"]
    assert (finding.severity, finding.next_step, finding.component) == (Severity.SEV3, cond.next_step, "database")


def test_the_worst_finding_sets_the_severity_and_findings_are_sorted_worst_first():
    v = verdict([rec("logs", "failed", "log_errors"), rec("db", "failed", "database_connection")])
    assert v.label == "SEV2" and [f.severity for f in v.findings] == [Severity.SEV2, Severity.SEV3]


def test_verdict_json_has_the_documented_fields(tmp_path):
    v = verdict([rec("db", "failed", "database_connection", "DATABASE DOWN"), rec("ok", "passed", "log_errors")])
    path = tmp_path / "sub" / "verdict.json"
    v.write(path)
    data = json.loads(path.read_text())
    assert {"target", "started_at", "finished_at", "duration_s", "severity", "response", "findings",
            "counts"} <= set(data)
    assert data["severity"] == "SEV2" and data["response"] == "30 minutes"
    assert data["counts"]["passed"] == 1 and data["counts"]["failed"] == 1 and data["counts"]["skipped"] == 0
    assert set(data["findings"][0]) >= {"check", "component", "condition", "severity", "summary", "next_step"}


def test_every_condition_names_a_known_escalation():
    for cond in CONDITIONS.values():
        assert cond.escalates_to is None or cond.escalates_to in CONDITIONS, cond.key
        assert (cond.group is None) == (cond.escalates_to is None), cond.key


def test_checks_skipped_on_purpose_are_not_applicable_and_do_not_make_the_run_incomplete():
    v = verdict([rec("tls", "not_applicable", "complete_outage", "plain HTTP"), rec("a", "passed", "log_errors")])
    assert v.headline == "VERDICT: OK" and v.counts["skipped"] == 1
    assert v.not_applicable == [{"check": "tls", "reason": "plain HTTP"}]


def blind_rec(reason="password authentication failed for user \"oncall\" (authentication phase, ...)"):
    return CheckRecord(nodeid="checks/test_database.py::test_database_connectivity", check="test_database_connectivity",
                       outcome="could_not_run", condition="database_connection", summary=reason,
                       evidence=[{"kind": "database", "title": "connection", "text": "failed phase: authentication",
                                  "data": {"phase": "authentication"}}], blind="database")


def test_a_component_not_checked_is_never_a_silent_ok():
    v = verdict([rec("a", "passed", "partial_outage"), blind_rec()])
    assert v.severity is None and v.label == "NOT CHECKED"  # no incident, but not OK either (issue 15)
    assert v.headline.startswith("VERDICT: NOT CHECKED - database (the suite")
    data = v.to_dict()
    assert data["severity"] == "NOT CHECKED" and data["response"].startswith("unknown: fix the suite's access to")
    assert v.lines()[1] == ('DATABASE NOT CHECKED: password authentication failed for user "oncall" '
                            '(authentication phase, ...)')
    (entry,) = json.loads(json.dumps(v.to_dict()))["blind"]
    assert entry["component"] == "database" and entry["evidence"][0]["data"]["phase"] == "authentication"


def test_a_finding_keeps_its_severity_and_the_blind_component_is_still_shown():
    v = verdict([rec("a", "failed", "log_errors", "50 errors"), blind_rec()])
    assert v.label == "SEV3" and v.headline.startswith("VERDICT: SEV3")
    assert v.lines()[1].startswith("DATABASE NOT CHECKED: ")
    assert v.to_dict()["severity"] == "SEV3" and v.to_dict()["blind"][0]["component"] == "database"


def test_an_interrupted_blind_run_is_interrupted():
    v = verdict([blind_rec()], interrupted="SIGTERM")
    assert v.label == "INTERRUPTED" and v.headline.startswith("VERDICT: INTERRUPTED - stopped by SIGTERM")


def test_a_record_without_blind_reads_back_from_an_older_worker():
    data = rec("a", "passed", "partial_outage").to_dict()
    del data["blind"]
    assert CheckRecord.from_dict(data).blind == ""


# --- issue 8: never OK by accident -----------------------------------------------------------------------


def test_a_failure_without_a_known_condition_is_an_unclassified_finding_not_an_error():
    """Records as a worker reports them: one without a condition, one with a key the table lacks."""
    v = verdict([rec("a", "failed", None, "a is down"), rec("b", "failed", "no_such_key", "b is slow"),
                 rec("c", "passed", None)])
    assert v.label == "SEV3"
    assert [(f.check, f.condition_key) for f in v.findings] == [("a", "unclassified"), ("b", "unclassified")]
    assert v.findings[1].summary == "b is slow (the check named an unknown condition 'no_such_key')"


def test_an_interrupted_run_is_never_ok():
    records = [rec("a", "passed", "partial_outage")]
    v = assemble(records, target="t", base_url="http://x", started_at="a", finished_at="b", duration_s=1.0,
                 interrupted="SIGTERM", planned=5)
    assert v.label == "INTERRUPTED" and "OK" not in v.headline
    assert v.headline == ("VERDICT: INTERRUPTED - stopped by SIGTERM after 1 of 5 checks: no verdict; nothing "
                          "found before it stopped, but not everything was checked")
    data = v.to_dict()
    assert data["severity"] == "INTERRUPTED" and data["interrupted"] == "SIGTERM" and data["worst_so_far"] is None
    found = assemble([*records, rec("b", "failed", "partial_outage", "down")], target="t", base_url="http://x",
                     started_at="a", finished_at="b", duration_s=1.0, interrupted="SIGINT (Ctrl-C)", planned=5)
    assert found.to_dict()["worst_so_far"] == "SEV2"
    assert found.headline.endswith("; found before it stopped: SEV2 - High - respond within 30 minutes")


def test_the_suites_own_bounds_not_in_force_are_a_warning_of_the_verdict_once(tmp_path):
    warning = {"kind": "warning", "title": "the suite's statement bounds", "text": "not in force: statement mode"}
    records = [CheckRecord(n, n, "passed", evidence=[warning]) for n in ("a", "b")]  # two workers, one warning
    v = verdict(records)
    assert v.warnings == ["not in force: statement mode"] and v.severity is None
    assert v.lines()[:2] == ["VERDICT: OK", "WARNING: not in force: statement mode"]
    v.write(tmp_path / "verdict.json")
    assert json.loads((tmp_path / "verdict.json").read_text())["warnings"] == ["not in force: statement mode"]


# --- issue 16: one typed Verdict end to end: what a run writes reads back as the same Verdict -------------


def _kept_verdicts():
    down = rec("test_db", "failed", "database_connection", "DATABASE DOWN: connection refused")
    warning = {"kind": "warning", "title": "the suite's statement bounds", "text": "not in force: statement mode"}
    gated = verdict([down, rec("test_home", "passed", "partial_outage"),
                     CheckRecord("checks/x.py::test_w", "test_w", "passed", evidence=[warning]),
                     rec("test_tls", "could_not_run", "tls_certificate_expired", "run budget of 15 s spent"),
                     rec("test_x", "not_applicable", None, "no TLS on plain HTTP")], planned=6)
    return {
        "OK": verdict([rec("a", "passed", "partial_outage")]),
        "SEV2 with waived, flaky, context, warnings and changes": replace(
            gated, waived=[{"check": "test_logs", "severity": "SEV3", "expires": "2026-04-01", "reason": "known",
                            "summary": "50 errors"}],
            flaky=[{"check": "test_home", "summary": "failed 1 of 2 attempts", "attempts": []}],
            context=["the provider's status page: degraded performance"],
            changes=[{"text": "deploy version 1.4.1 -> 1.4.2"}], changes_since="2026-03-14T02:00:00+00:00",
            fingerprint={"taken_at": "2026-03-14T02:15:00+00:00", "endpoints": {"/": {"status": 200}}}),
        "NOT CHECKED": verdict([blind_rec(), rec("b", "passed", "partial_outage")]),
        "INTERRUPTED, nothing found": verdict([rec("a", "passed", "partial_outage")], interrupted="SIGTERM",
                                              planned=5),
        "INTERRUPTED after a finding": verdict([down], interrupted="SIGINT (Ctrl-C)", planned=5),
        "SEV2 and a blind component": verdict([down, blind_rec()]),
    }


@pytest.mark.parametrize("name", list(_kept_verdicts()))
def test_a_kept_verdict_reads_back_as_the_same_verdict(tmp_path, name):
    kept = _kept_verdicts()[name]
    kept.write(tmp_path / "verdict.json")  # as the run writes it
    data = json.loads((tmp_path / "verdict.json").read_text())
    assert Verdict.from_dict(data).to_dict() == data
    again = read(tmp_path / "verdict.json")
    assert again is not None and again.label == kept.label and again.severity == kept.severity
    assert again.findings == kept.findings and again.headline == kept.headline and again.lines() == kept.lines()


def test_what_is_not_a_verdict_reads_as_none_and_never_as_ok(tmp_path):
    path = tmp_path / "verdict.json"
    assert read(path) is None  # no file
    for text in ("{", "[]", '{"target": "t"}', '{"severity": "INTERRUPTED", "findings": [{"severity": "SEV9"}]}'):
        path.write_text(text)
        assert read(path) is None, text
    path.write_text('{"severity": "INTERRUPTED"}')  # an older file: still INTERRUPTED, never OK
    assert read(path).label == "INTERRUPTED"  # type: ignore[union-attr]
    path.write_text('{"severity": "NOT CHECKED"}')
    assert read(path).label == "NOT CHECKED"  # type: ignore[union-attr]
