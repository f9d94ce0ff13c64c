"""What a health endpoint's answer says: an unhealthy status field, an HTML page, invalid JSON, a word of failure."""

from __future__ import annotations

import json
import re
from typing import Any

from scenescout_ir.probes.http import HttpResult

_BAD = {"degraded", "down", "error", "fail", "failed", "failing", "unhealthy", "critical", "unavailable", "ko"}
_STATUS_KEYS = {"status", "state", "health", "database", "db", "postgres", "api", "cache", "redis"}


def unhealthy_fields(body: Any, path: str = "") -> list[str]:
    """``["status=degraded", "database=down"]`` from a health JSON body (one level of nesting looked into)."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return problems
    for key, value in body.items():
        name = f"{path}{key}"
        lowered = str(key).lower()
        if isinstance(value, bool):
            if lowered in {"ok", "healthy", "up", "alive"} and value is False:
                problems.append(f"{name}=false")
        elif isinstance(value, str):
            if lowered in _STATUS_KEYS and value.strip().lower() in _BAD:
                problems.append(f"{name}={value}")
        elif isinstance(value, dict) and not path:
            problems += unhealthy_fields(value, f"{name}.")
    return problems


_HTML = ("<!doctype html", "<html", "<head", "<body")


def health_answer_problem(result: HttpResult) -> str | None:
    """What is wrong with a health endpoint's 2xx answer, or None when it is what a health endpoint says:
    JSON (whose status fields are judged by :func:`unhealthy_fields`), a short plain-text word such as "ok"
    or "healthy", or no body at all (the status is the answer, as for `curl -I`). A web page is never a
    health status: a default nginx page or the front end's index.html behind a catch-all route answers 200
    whatever the state of the application."""
    body = result.body.strip()
    kind = result.content_type
    if kind in ("text/html", "application/xhtml+xml") or body[:200].lower().lstrip().startswith(_HTML):
        title = re.search(r"<title[^>]*>([^<]{1,80})", body, re.I)
        seen = f" ({title.group(1).strip()!r})" if title and title.group(1).strip() else ""
        return f"answers an HTML page{seen}, not a health status"
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        if kind == "application/json" or kind.endswith("+json"):
            return f"answers invalid JSON ({_excerpt(body)})"
        words = re.findall(r"[a-z]+", body.lower())
        bad = next((w for w in words if w in _BAD), None)
        # plain text: "ok", "healthy", "OK - db connected" are health statuses; a word of failure is not
        return f"says {bad!r} ({_excerpt(body)})" if bad else None
    if parsed is False or (isinstance(parsed, str) and parsed.strip().lower() in _BAD):
        return f"answers {_excerpt(body)}"
    return None


def _excerpt(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return repr(line if len(line) <= limit else line[:limit] + "…")
