"""Error signatures: a log line with its numbers, ids and timestamps masked, so the same error counts as one.

The playbook's ``grep -i error logs/application.log | awk '{print $1, $2}' | uniq -c | sort -nr`` groups by
the first two words (a date and a time: every line its own group); this groups by what the error says.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

_MASKS = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b(?=\W|$)", re.I), "<hex>"),
    (re.compile(r"(?<![\w<])\d+(?:\.\d+)?(?:ms|s|kb|mb|gb|b)?\b", re.I), "<n>"),
)
_LEADING = re.compile(
    r"^\W{0,2}<time>\W{0,2}\s*|^\s*\[?(?:ERROR|FATAL|CRITICAL|WARN(?:ING)?|INFO|DEBUG|error|fatal)\]?:?\s+"
)


def signature(line: str, limit: int = 160) -> str:
    """``TypeError: Cannot read properties of undefined (reading 'x')`` from any line that says it."""
    text = _message(line.strip())
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    previous = None
    while previous != text:  # the leading timestamp and level words, in either order
        previous, text = text, _LEADING.sub("", text, count=1)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_record(text: str) -> dict[str, Any] | None:
    """A JSON log line (pino, bunyan, ...) as a dict; None for a plain line or a broken one."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        record = json.loads(stripped)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _message(line: str) -> str:
    """A JSON (pino, bunyan) line's message and error, else the line."""
    data = json_record(line)
    if data is None:
        return line
    parts = [str(data.get(k)) for k in ("msg", "message") if data.get(k)]
    err = data.get("err") or data.get("error")
    if isinstance(err, dict):
        parts.append(": ".join(str(err[k]) for k in ("type", "message") if err.get(k)))
    elif err:
        parts.append(str(err))
    return " - ".join(parts) or line


def top_signatures(lines: Iterable[str], n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` most frequent signatures, most frequent first (ties: first seen first)."""
    counts = Counter(signature(line) for line in lines if line.strip())
    return counts.most_common(n)
