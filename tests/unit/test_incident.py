"""The incident log (start, findings, notes, resolve), safe concurrent appends, the CLI and the post-mortem draft."""

import json
import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scenescout_ir.core.redact import Redactor
from scenescout_ir.incident import log as incident
from scenescout_ir.incident import postmortem
from scenescout_ir.judge.verdict import Verdict
from scenescout_ir.reporting import report

T0 = datetime(2026, 3, 14, 2, 10, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_start_creates_the_log_in_the_playbooks_format_and_opens_it(tmp_path):
    path = incident.start(tmp_path, "checkout answers 500\nsince 02:05", now=T0)
    assert path.name == "incident-20260314-0210.log"
    assert path.read_text() == "Sat Mar 14 02:10:05 UTC 2026: INCIDENT START - checkout answers 500 since 02:05\n"
    current = incident.open_incident(tmp_path)
    assert current is not None and current.path == path and current.description.startswith("checkout")
    assert incident.open_incident_start(tmp_path) == T0


def test_only_one_incident_is_open_at_a_time(tmp_path):
    incident.start(tmp_path, "first", now=T0)
    with pytest.raises(incident.IncidentError, match=r"incident-20260314-0210.log is still open .*resolve it first"):
        incident.start(tmp_path, "second", now=at(1))


def test_notes_and_resolution_follow_the_playbook_and_close_it(tmp_path):
    path = incident.start(tmp_path, "db down", now=T0)
    incident.note(tmp_path, "restarted pgbouncer", now=at(3))
    incident.resolve(tmp_path, resolution="failed over to the replica", root_cause="disk full on the primary",
                     impact="no logins for 42 min", next_steps="alert at 80% disk", now=at(42))
    lines = path.read_text().splitlines()
    assert lines[1] == "Sat Mar 14 02:13:05 UTC 2026: Mitigation attempted: restarted pgbouncer"
    assert lines[2:] == [
        "Sat Mar 14 02:52:05 UTC 2026: INCIDENT RESOLVED",
        "Resolution: failed over to the replica",
        "Root Cause: disk full on the primary",
        "Duration: Sat Mar 14 02:10:05 UTC 2026 to Sat Mar 14 02:52:05 UTC 2026 (42 min)",
        "Impact: no logins for 42 min",
        "Next Steps: alert at 80% disk",
    ]
    assert incident.open_incident(tmp_path) is None and incident.open_incident_start(tmp_path) is None
    parsed = incident.parse(path)
    assert parsed.resolution()["Root Cause"] == "disk full on the primary"
    with pytest.raises(incident.IncidentError, match="no open incident"):
        incident.note(tmp_path, "too late", now=at(50))
    again = incident.start(tmp_path, "db down again", now=at(43))  # same minute name is taken
    assert again.name == "incident-20260314-0253.log"


def test_a_second_incident_in_the_same_minute_gets_its_own_file(tmp_path):
    incident.start(tmp_path, "one", now=T0)
    incident.resolve(tmp_path, resolution="r", root_cause="c", impact="i", next_steps="n", now=T0)
    second = incident.start(tmp_path, "two", now=T0)
    assert second.name == "incident-20260314-0210-2.log"
    assert incident.open_incident(tmp_path).path == second


def test_a_log_resolved_by_hand_with_the_playbooks_echo_is_closed(tmp_path):
    path = incident.start(tmp_path, "site down", now=T0)
    with open(path, "a") as fh:  # what `echo "$(date): ..." >>` writes, in date's own format
        fh.write("Sat Mar 14 02:20:00 UTC 2026: Mitigation attempted: restarted nginx\n")
        fh.write("Sat Mar 14 02:30:00 UTC 2026: INCIDENT RESOLVED\nResolution: nginx config fixed\n")
    parsed = incident.parse(path)
    assert [e.kind for e in parsed.events] == ["start", "mitigation", "resolved"]
    assert parsed.resolution() == {"Resolution": "nginx config fixed"}
    assert incident.open_incident(tmp_path) is None


def test_dates_in_other_shapes_are_read(tmp_path):
    assert incident.parse_stamp("Sat Mar  4 02:10:05 UTC 2026") == datetime(2026, 3, 4, 2, 10, 5, tzinfo=UTC)
    assert incident.parse_stamp("2026-03-14T02:10:05+01:00") == datetime(2026, 3, 14, 1, 10, 5, tzinfo=UTC)
    assert incident.parse_stamp("Resolution") is None
    assert incident.parse_stamp("not a date at all x y") is None


def test_secrets_in_notes_are_scrubbed(tmp_path):
    redact = Redactor(["postgresql://oncall:pw-9f8e7d@db/x"])
    path = incident.start(tmp_path, "login fails, DSN postgresql://oncall:pw-9f8e7d@db/x", redact=redact, now=T0)
    incident.note(tmp_path, "rotated pw-9f8e7d and token=abc123", redact=redact, now=at(1))
    text = path.read_text()
    assert "pw-9f8e7d" not in text and "abc123" not in text and text.count("***") == 3


VERDICT = {
    "target": "demo", "severity": "SEV2", "started_at": "2026-03-14T02:15:00+00:00",
    "finished_at": "2026-03-14T02:15:04+00:00",
    "counts": {"passed": 14, "failed": 2, "could_not_run": 1, "broken": 0},
    "findings": [
        {"severity": "SEV2", "component": "database", "condition": "Database connection problems",
         "summary": "DATABASE DOWN: connection refused", "check": "test_database_connectivity",
         "condition_key": "database_connection", "section": "Scenario 2", "next_step": "check the pooler"},
        {"severity": "SEV3", "component": "logs", "condition": "High error rates in logs",
         "summary": "application.log: 50 errors", "check": "test_recent_log_errors[application.log]",
         "condition_key": "log_errors", "section": "Error Analysis", "next_step": "read the errors"},
    ],
}


def test_a_runs_verdict_becomes_investigation_findings_lines_with_its_report(tmp_path):
    path = incident.start(tmp_path, "db down", now=T0)
    lines = incident.run_lines(Verdict.from_dict(VERDICT), report="../reports/runs/20260314T021500Z-SEV2/report.html",
                               selection="emergency")
    assert incident.append_event(tmp_path, lines, now=at(5)) == path
    text = path.read_text().splitlines()
    assert text[1] == (
        "Sat Mar 14 02:15:05 UTC 2026: Investigation findings: VERDICT: SEV2 - High - respond within 30 minutes "
        "(demo, -m emergency: 14 passed, 2 found a problem, 1 could not run) - report: "
        "../reports/runs/20260314T021500Z-SEV2/report.html"
    )
    assert text[2] == ("Sat Mar 14 02:15:05 UTC 2026: Investigation findings:   SEV2 database: Database connection "
                       "problems - DATABASE DOWN: connection refused (test_database_connectivity)")
    (run,) = incident.parse(path).runs()
    assert run.severity == "SEV2" and run.report.endswith("report.html") and len(run.lines) == 2


def test_no_open_incident_means_nothing_is_appended(tmp_path):
    assert incident.append_event(tmp_path, ["Investigation findings: VERDICT: OK"]) is None
    assert incident.logs(tmp_path) == []


def _writer(directory: str, writer: int, events: int, barrier) -> None:
    barrier.wait()
    for n in range(events):
        lines = [f"Investigation findings: VERDICT: SEV3 writer {writer} event {n}"]
        lines += [f"Investigation findings:   SEV3 logs: finding {k} of writer {writer} event {n} " + "x" * 300
                  for k in range(5)]
        incident.append_event(Path(directory), lines)


def test_concurrent_runs_never_interleave_or_lose_lines(tmp_path):
    path = incident.start(tmp_path, "busy", now=T0)
    writers, events = 6, 20
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(writers)
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, events, barrier)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    lines = path.read_text().splitlines()[1:]
    assert len(lines) == writers * events * 6
    for i in range(0, len(lines), 6):  # each event's six lines together, in order, whole
        head = lines[i].split("VERDICT: SEV3 ")[1]
        writer, event = head.split()[1], head.split()[3]
        for k in range(5):
            assert lines[i + 1 + k].endswith(f"finding {k} of writer {writer} event {event} " + "x" * 300)
    runs = incident.parse(path).runs()
    assert len(runs) == writers * events and all(len(r.lines) == 5 for r in runs)


def cli(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "scenescout_ir", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=60)


def test_the_cli_runs_the_lifecycle_and_errors_are_one_line(tmp_path):
    env = {"SCENESCOUT_INCIDENTS_DIR": str(tmp_path), "SCENESCOUT_SLACK_WEBHOOK": ""}
    fail = cli("incident", "note", "x", env=env)
    assert fail.returncode == 2 and fail.stdout == ""
    assert fail.stderr.count("\n") == 1 and fail.stderr.startswith("error: no open incident in ")
    started = cli("incident", "start", "search returns nothing", env=env)
    assert started.returncode == 0 and "incident started: " in started.stdout
    again = cli("incident", "start", "again", env=env)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
    assert cli("incident", "note", "reindexed events", env=env).returncode == 0
    status = cli("incident", "status", env=env)
    assert "open: " in status.stdout and "search returns nothing" in status.stdout
    missing = cli("incident", "resolve", "--resolution", "x", env=env)
    assert missing.returncode == 2 and "--root-cause" in missing.stderr and missing.stderr.count("\n") == 1
    resolved = cli("incident", "resolve", "--resolution", "reindex", "--root-cause", "index dropped",
                   "--impact", "no search results", "--next-steps", "guard migrations", env=env)
    assert resolved.returncode == 0, resolved.stderr
    (log,) = incident.logs(tmp_path)
    assert "Mitigation attempted: reindexed events" in log.read_text()
    assert incident.open_incident(tmp_path) is None
    draft = cli("incident", "postmortem", env=env)
    assert draft.returncode == 0, draft.stderr
    assert (tmp_path / f"{log.stem}-postmortem.md").is_file()


def _kept_run(reports_dir: Path, verdict: dict) -> str:
    run_dir = report.archive_run(reports_dir, Verdict.from_dict(verdict), None)
    return run_dir.name


def _verdict(severity, started, findings=()):
    return {**VERDICT, "severity": severity, "started_at": started.isoformat(),
            "finished_at": (started + timedelta(seconds=4)).isoformat(), "findings": list(findings),
            "counts": {"passed": 17 - len(findings), "failed": len(findings), "could_not_run": 0, "broken": 0}}


def test_the_postmortem_draft_derives_the_timeline_from_the_log_and_the_runs(tmp_path):
    incidents, reports_dir = tmp_path / "incidents", tmp_path / "reports"
    db_finding = VERDICT["findings"][0]
    _kept_run(reports_dir, _verdict("OK", at(-30)))  # healthy half an hour before
    _kept_run(reports_dir, _verdict("SEV2", at(-4), [db_finding]))  # the suite saw it 4 min before the start
    path = incident.start(incidents, "logins fail", now=T0)
    for minutes, severity, findings in ((1, "SEV2", [db_finding]), (20, "SEV2", [db_finding]), (31, "OK", [])):
        verdict = _verdict(severity, at(minutes), findings)
        name = _kept_run(reports_dir, verdict)
        link = os.path.relpath(reports_dir / "runs" / name / "report.html", incidents)
        incident.append_event(incidents, incident.run_lines(Verdict.from_dict(verdict), report=link),
                              now=at(minutes) + timedelta(seconds=5))
        if minutes == 1:
            incident.append_event(incidents, [f"{incident.NOTIFIED}SEV2 to hooks.example answered 200"],
                                  now=at(1.2))
    incident.note(incidents, "restarted pgbouncer", now=at(12))
    incident.resolve(incidents, resolution="pgbouncer restarted with a bigger pool", root_cause="pool exhausted",
                     impact="logins failed for 30 min", next_steps="alert on pool saturation", now=at(35))
    text = postmortem.draft(incident.parse(path), reports_dir=reports_dir)
    assert text.startswith("# Post-incident review: logins fail")
    assert "| Worst severity seen | SEV2 - High - respond within 30 minutes |" in text
    assert "| Duration | 35 min |" in text
    assert "| First run of the suite that found a problem | 2026-03-14 02:06:05 | 0 s | -4 min |" in text
    assert "| Response: first mitigation attempted | 2026-03-14 02:22:05 | 16 min | 12 min |" in text
    assert "| Fix verified: first all-OK run after the last failing one | 2026-03-14 02:41:05 | 35 min | 31 min |" \
        in text
    assert "the suite saw the problem 4 min before the incident was declared" in text
    assert "detection to first mitigation took 16 min, within the target" in text
    assert "- 2026-03-14 02:11:17 Notification sent: SEV2 to hooks.example answered 200" in text
    history = text.split("## Severity history")[1].split("## Findings")[0]
    assert history.count("\n| 2026-03-14") == 5  # the healthy and the failing run before, and the three runs
    assert "02:06:05 (before the start) | SEV2" in history and "01:40:05 (before the start) | OK" in history
    assert "(not rendered: `make report`)" in history  # the reports were not rendered in this test
    assert "### SEV2 database: Database connection problems (test_database_connectivity)" in text
    assert "- Seen in 3 run(s), first 2026-03-14 02:06:05, last 2026-03-14 02:30:05" in text
    assert "**Technical root cause:** pool exhausted" in text
    assert "the last healthy run was at 2026-03-14 01:40:05" in text
    assert "**Immediate fixes:** alert on pool saturation" in text
    assert "Sat Mar 14 02:22:05 UTC 2026: Mitigation attempted: restarted pgbouncer" in text  # the log itself


def test_an_open_incident_without_runs_still_gets_a_draft(tmp_path):
    path = incident.start(tmp_path, "maps blank", now=T0)
    text = postmortem.draft(incident.parse(path))
    assert "| Status | **still open** |" in text
    assert "declared before any kept run of the suite saw a problem" in text
    assert "no run of the suite was recorded" in text


def test_json_roundtrip_of_kept_verdicts(tmp_path):
    verdict = Verdict.from_dict(VERDICT)
    run_dir = report.archive_run(tmp_path, verdict, None)
    assert run_dir.name == "20260314T021500Z-SEV2"
    assert json.loads((run_dir / "verdict.json").read_text()) == verdict.to_dict()
    assert report.read_verdict(run_dir) == verdict
    assert report.archive_run(tmp_path, Verdict.from_dict(VERDICT), None).name == "20260314T021500Z-SEV2-2"


def test_a_run_that_could_not_check_the_database_is_not_logged_as_ok():
    verdict = {"target": "production", "severity": "OK", "counts": {"passed": 9, "failed": 0, "could_not_run": 8},
               "findings": [], "blind": [{"component": "database", "check": "test_database_connectivity",
                                          "reason": "password authentication failed for user \"oncall\""}]}
    lines = incident.run_lines(Verdict.from_dict(verdict), report=None)
    assert "VERDICT: NOT CHECKED - database (production: 9 passed" in lines[0] and "VERDICT: OK" not in lines[0]
    assert lines[1].endswith('DATABASE NOT CHECKED: password authentication failed for user "oncall"')


# --- issue 15: NOT CHECKED is a state of its own, never OK ------------------------------------------------

BLIND = [{"component": "database", "check": "test_database_connectivity",
          "reason": "password authentication failed for user \"oncall\""}]


def test_a_not_checked_run_is_kept_logged_and_reviewed_as_not_checked(tmp_path):
    incidents, reports_dir = tmp_path / "incidents", tmp_path / "reports"
    _kept_run(reports_dir, _verdict("OK", at(-30)))  # the last healthy run
    blind = {**_verdict("NOT CHECKED", at(-20)), "blind": BLIND}
    assert _kept_run(reports_dir, blind) == "20260314T015005Z-NOT-CHECKED"
    assert [p.name for p in report.runs(reports_dir)][-1] == "20260314T015005Z-NOT-CHECKED"  # kept and pruned
    _kept_run(reports_dir, _verdict("SEV2", at(-4), [VERDICT["findings"][0]]))
    path = incident.start(incidents, "logins fail", now=T0)
    lines = incident.run_lines(Verdict.from_dict(blind), report=None)
    assert lines[0].startswith(f"{incident.FINDINGS}VERDICT: NOT CHECKED - database (demo: ")
    incident.append_event(incidents, lines, now=at(1))
    (entry,) = incident.parse(path).runs()
    assert entry.severity == "NOT CHECKED"
    text = postmortem.draft(incident.parse(path), reports_dir=reports_dir)
    history = text.split("## Severity history")[1].split("## Findings")[0]
    # a blind run is not the last healthy one: the streak before the start goes back through it to the OK run
    assert "01:50:05 (before the start) | NOT CHECKED" in history and "01:40:05 (before the start) | OK" in history
    assert "NOT CHECKED" not in text.split("| Worst severity seen |")[1].split("\n")[0]  # worst is SEV2


def test_a_run_with_a_finding_and_a_blind_component_logs_both():
    verdict = {**_verdict("SEV3", at(0), [VERDICT["findings"][0]]), "blind": BLIND}
    lines = incident.run_lines(Verdict.from_dict(verdict), report=None)
    assert "VERDICT: SEV3" in lines[0]
    assert lines[1].endswith('DATABASE NOT CHECKED: password authentication failed for user "oncall"')


# --- the draft, byte for byte (issue 16: draft split into one function per section) -------------------------

GOLDEN_DRAFT = Path(__file__).with_name("postmortem_draft.golden.md")


def _reviewed_incident(tmp_path: Path) -> str:
    """A resolved incident with every section filled: a streak before the start (healthy, NOT CHECKED, failing),
    three runs while open, a notification, a mitigation and a resolution; the draft without its generation time."""
    incidents, reports_dir = tmp_path / "incidents", tmp_path / "reports"
    db_finding = VERDICT["findings"][0]
    _kept_run(reports_dir, _verdict("OK", at(-30)))
    _kept_run(reports_dir, {**_verdict("NOT CHECKED", at(-20)), "blind": BLIND})
    _kept_run(reports_dir, _verdict("SEV2", at(-4), [db_finding]))
    path = incident.start(incidents, "logins fail | for some", now=T0)
    for minutes, severity, findings in ((1, "SEV2", [db_finding]), (20, "SEV1", [db_finding]), (31, "OK", [])):
        verdict = _verdict(severity, at(minutes), findings)
        link = os.path.relpath(reports_dir / "runs" / _kept_run(reports_dir, verdict) / "report.html", incidents)
        when = at(minutes) + timedelta(seconds=5)
        incident.append_event(incidents, incident.run_lines(Verdict.from_dict(verdict), report=link), now=when)
    incident.append_event(incidents, [f"{incident.NOTIFIED}SEV2 to hooks.example answered 200"], now=at(1.2))
    incident.note(incidents, "restarted pgbouncer", now=at(12))
    incident.resolve(incidents, resolution="pgbouncer restarted", root_cause="pool exhausted", impact="30 min",
                     next_steps="alert on pool saturation", now=at(35))
    text = postmortem.draft(incident.parse(path), reports_dir=reports_dir)
    open_text = postmortem.draft(incident.parse(incident.start(tmp_path / "open", "maps blank", now=T0)))
    return "\n".join(line for line in (text + "\n" + open_text).splitlines() if not line.startswith("Draft generated"))


def test_the_draft_is_byte_for_byte_the_one_before_the_split(tmp_path):
    assert _reviewed_incident(tmp_path) == GOLDEN_DRAFT.read_text(encoding="utf-8")
