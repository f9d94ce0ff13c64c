"""The webhook message: posted for SEV1/SEV2 to a real local HTTP receiver; a failing or silent webhook costs the
run at most its short timeout and never fails it; the webhook's token is never shown."""

import time

import pytest

from scenescout_ir.core.redact import Redactor
from scenescout_ir.incident import log as incident
from scenescout_ir.incident import notify
from scenescout_ir.judge.verdict import Verdict
from tests.forkserver import runpytest_forked
from tests.servers import WebhookReceiver
from tests.unit.test_allure_evidence import CONFTEST, TARGETS

VERDICT = {
    "target": "production", "base_url": "https://scenescout.app", "severity": "SEV1",
    "findings": [{"severity": "SEV1", "component": "site", "condition": "Complete system outage",
                  "summary": f"SITE DOWN: GET / -> connection refused (finding {n})", "check": f"test_{n}"}
                 for n in range(7)],
}


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def silent(silent_server):
    """A webhook that accepts connections and never answers (a hung one)."""
    return f"http://127.0.0.1:{silent_server}/services/T/B/hung-token"


def test_a_sev1_verdict_posts_a_short_slack_message(receiver, monkeypatch):
    monkeypatch.setenv(notify.WEBHOOK_ENV, receiver.url)
    text = notify.verdict_message(Verdict.from_dict(VERDICT), report="reports/runs/x/report.html",
                                  incident="incident-20260314-0210.log")
    delivered, what = notify.send(text, redact=Redactor())
    assert delivered and what == "127.0.0.1 answered 200"
    (got,) = receiver.received
    assert got["type"] == "application/json" and got["path"] == "/services/T000/B000/secret-token-xyz"
    message = got["body"]["text"]
    assert set(got["body"]) == {"text"}
    assert message.startswith("\N{POLICE CARS REVOLVING LIGHT} INCIDENT: SEV1 - Critical - respond immediately on "
                              "production (https://scenescout.app) - Investigating")
    assert "finding 4" in message and "finding 5" not in message and "and 2 more" in message
    assert "Incident log: incident-20260314-0210.log" in message and "Report: reports/runs/x/report.html" in message


def test_sev3_sev4_and_ok_post_nothing():
    for severity in ("SEV3", "SEV4", "OK"):
        assert notify.verdict_message(Verdict.from_dict({**VERDICT, "severity": severity})) is None


def test_nothing_is_sent_unless_a_webhook_is_configured(monkeypatch):
    monkeypatch.delenv(notify.WEBHOOK_ENV, raising=False)
    assert notify.send("x", redact=Redactor()) is None


def test_the_message_goes_through_the_redactor(receiver, monkeypatch):
    monkeypatch.setenv(notify.WEBHOOK_ENV, receiver.url)
    notify.send("DATABASE DOWN: postgresql://oncall:pw-123456@db/x", redact=Redactor())
    assert receiver.received[0]["body"]["text"] == "DATABASE DOWN: postgresql://oncall:***@db/x"


def test_a_silent_webhook_is_given_up_after_the_timeout_without_raising(silent):
    began = time.monotonic()
    delivered, what = notify.post(silent, "hello", timeout=0.5)
    elapsed = time.monotonic() - began
    assert not delivered and what == "127.0.0.1 did not answer within 0.5 s (not waiting longer)"
    assert elapsed < 5  # bounded by the timeout (with room for a loaded machine), not by the webhook


def test_a_refusing_or_failing_webhook_is_reported_not_raised(receiver):
    port = receiver.server.server_address[1]
    receiver.close()
    delivered, what = notify.post(f"http://127.0.0.1:{port}/services/T/B/tok", "x", timeout=2)
    assert not delivered and what == "127.0.0.1: connection refused"
    failing = WebhookReceiver(status=500)
    try:
        delivered, what = notify.post(failing.url, "x", timeout=2)
    finally:
        failing.close()
    assert not delivered and what == "127.0.0.1 answered 500"


def test_the_webhook_token_is_never_in_what_is_shown(silent):
    for url in (silent, "http://127.0.0.1:9/services/T/B/hung-token"):
        _, what = notify.post(url, "x", timeout=0.5)
        assert "hung-token" not in what


CHECK = """
import pytest
pytestmark = pytest.mark.emergency

@pytest.mark.condition("database_connection")
def test_db():
    assert False, "DATABASE DOWN: connection refused"
"""


@pytest.fixture
def scratch(pytester, monkeypatch):
    monkeypatch.setenv("SCENESCOUT_INCIDENTS_DIR", str(pytester.path / "incidents"))
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".toml", targets=TARGETS)
    pytester.makepyfile(test_checks=CHECK)
    return pytester


def test_a_sev2_run_notifies_and_the_incident_log_records_it(scratch, receiver, monkeypatch):
    monkeypatch.setenv(notify.WEBHOOK_ENV, receiver.url)
    path = incident.start(scratch.path / "incidents", "logins fail")
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["notification sent: 127.0.0.1 answered 200"])
    (got,) = receiver.received
    assert "SEV2 - High" in got["body"]["text"] and f"Incident log: {path.name}" in got["body"]["text"]
    assert "Notification sent: SEV2 to 127.0.0.1 answered 200" in path.read_text()
    assert "secret-token-xyz" not in result.stdout.str() + path.read_text()


def test_a_silent_webhook_neither_fails_nor_holds_the_run(scratch, silent, monkeypatch):
    monkeypatch.setenv(notify.WEBHOOK_ENV, silent)
    monkeypatch.setenv(notify.TIMEOUT_ENV, "0.5")
    path = incident.start(scratch.path / "incidents", "logins fail")
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    assert result.ret == 1  # the finding's exit code, not a crash
    result.stdout.fnmatch_lines(["VERDICT: SEV2*", "notification NOT sent: 127.0.0.1 did not answer within 0.5 s*"])
    assert "Notification sent: FAILED (SEV2): 127.0.0.1 did not answer within 0.5 s" in path.read_text()


def test_a_not_checked_run_pages_nobody_and_a_paging_run_names_what_it_could_not_see():
    """Issue 15: NOT CHECKED is its own state (the suite's own access, not an incident): no message; a SEV1/SEV2
    run that was also blind says so in its message."""
    blind = [{"component": "database", "reason": "password authentication failed for user \"oncall\""}]
    not_checked = Verdict.from_dict({**VERDICT, "severity": "NOT CHECKED", "findings": [], "blind": blind})
    assert notify.verdict_message(not_checked) is None
    message = notify.verdict_message(Verdict.from_dict({**VERDICT, "blind": blind}))
    assert message is not None and "SEV1" in message.splitlines()[0]
    assert '\u2022 DATABASE NOT CHECKED: password authentication failed for user "oncall"' in message
