"""The playbook's `slack-notify`: a short message to a Slack-compatible incoming webhook, off unless configured.

``SCENESCOUT_SLACK_WEBHOOK=https://hooks.slack.com/services/...`` turns it on. A run whose verdict is SEV1
or SEV2 posts ``{"text": ...}`` there; so do ``incident start`` and ``incident resolve``. The post runs in
a daemon thread that the run waits on for at most ``SCENESCOUT_SLACK_TIMEOUT`` seconds (default 2): a
webhook that fails, refuses or never answers costs the run at most that, and never fails it. The webhook
URL is a credential: it is never printed (only its host), and the message goes through the redactor.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from scenescout_ir.judge.verdict import Verdict

WEBHOOK_ENV = "SCENESCOUT_SLACK_WEBHOOK"
TIMEOUT_ENV = "SCENESCOUT_SLACK_TIMEOUT"
DEFAULT_TIMEOUT_S = 2.0
NOTIFY_SEVERITIES = ("SEV1", "SEV2")  # the playbook's External Communication is for Severity 1 & 2
MAX_FINDINGS = 5


def webhook() -> str | None:
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    return url or None


def timeout_s() -> float:
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_ENV, "") or DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def destination(url: str) -> str:
    """What may be shown of a webhook: its host (the path holds the token)."""
    return urlsplit(url).hostname or "the webhook"


def post(url: str, text: str, *, timeout: float | None = None) -> tuple[bool, str]:
    """POST ``{"text": text}``; returns (delivered, what happened in one line). Never raises, never waits long."""
    limit = timeout_s() if timeout is None else timeout
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            response = requests.post(url, json={"text": text}, timeout=(limit, limit))
            outcome["status"] = response.status_code
        except requests.Timeout:
            outcome["timed_out"] = True
        except requests.RequestException as exc:
            outcome["error"] = _reason(exc)

    worker = threading.Thread(target=send, name="scenescout-notify", daemon=True)
    worker.start()
    worker.join(limit)
    host = destination(url)
    if worker.is_alive() or outcome.get("timed_out"):  # the same words whichever deadline came first
        return False, f"{host} did not answer within {limit:g} s (not waiting longer)"
    if "error" in outcome:
        return False, f"{host}: {outcome['error']}"
    status = outcome.get("status")
    if status is not None and 200 <= status < 300:
        return True, f"{host} answered {status}"
    return False, f"{host} answered {status}"


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "host name does not resolve"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset by peer" in text:
        return "connection closed without an answer"
    return type(exc).__name__  # the message may carry the URL, and with it the token


def verdict_message(verdict: Verdict, *, report: str | None = None, incident: str | None = None) -> str | None:
    """The message for a run's verdict, or None when it does not call for one (OK, SEV3, SEV4)."""
    if verdict.label not in NOTIFY_SEVERITIES:
        return None
    findings = verdict.findings
    lines = [f"\N{POLICE CARS REVOLVING LIGHT} INCIDENT: {verdict.short_headline} on {verdict.target} "
             f"({verdict.base_url}) - Investigating"]
    for f in findings[:MAX_FINDINGS]:
        lines.append(f"\u2022 {f.severity.name} {f.component}: {f.condition} - {f.summary[:200]}")
    for b in verdict.blind:  # what this run could not see: the finding may not be the whole story
        lines.append(f"\u2022 {str(b['component']).upper()} NOT CHECKED: {str(b['reason'])[:200]}")
    if len(findings) > MAX_FINDINGS:
        lines.append(f"\u2022 ... and {len(findings) - MAX_FINDINGS} more")
    if incident:
        lines.append(f"Incident log: {incident}")
    if report:
        lines.append(f"Report: {report}")
    return "\n".join(lines)


def send(text: str, *, redact: Callable[[str], str]) -> tuple[bool, str] | None:
    """Post ``text`` (redacted) to the configured webhook; None when none is configured."""
    url = webhook()
    if url is None:
        return None
    return post(url, redact(text))
