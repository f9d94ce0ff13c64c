"""One line a person reads at 3 a.m. from a finding's full text: the verdict block's summary of every finding.

A finding's full message (verdict.json's ``summary``, the evidence) keeps everything; the verdict block shows
:func:`summarise` of it, whatever kind of check wrote it (HTTP, browser, database, logs):

- whitespace collapsed, real and literal (``\\n`` as a page's text shows it in a ``repr``);
- every URL decoded and shortened to its path and a short query (``GET /rest/v1/events?select=id,title,…``);
- parts repeated after that (the same failed request once per page or category) said once, counted (``6x GET``);
- the most telling error first: an uncaught exception or a console message before a list of URLs;
- cut at a word boundary with "…" (never mid-word), at ``limit`` characters.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

LINE = 300  # a finding's summary in the verdict block: a line or two
CAUSE = 200  # the probable cause names its finding once, shortly
_VALUE = 24  # a query value longer than this is shortened
_SECRET = re.compile(r"key|token|secret|passw|signature|^sig$|^auth|session", re.I)
_URL = re.compile(r"https?://[^\s'\"<>]+")
_PART = re.compile(r";\s+")  # the parts of a finding: "/: 0 cards; errors during the load: X; Y"
_TELLING = re.compile(r"^(?:[\w ]+: )?(?:uncaught |console: )", re.I)
_LIST_HEAD = re.compile(r"^(?P<head>[^;]*?\berrors during the load: )(?P<first>.+)$")


def summarise(text: str, limit: int = LINE) -> str:
    """The finding's text in at most ``limit`` characters (see the module's docstring)."""
    text = collapse_whitespace(text)
    text = _URL.sub(lambda m: _short(m.group(0)), text)
    text = "; ".join(_most_telling_first(_PART.split(text)))
    return cut(text, limit)


def collapse_whitespace(text: str) -> str:
    """Runs of spaces, tabs, newlines and their literal escapes (``\\n``, ``\\t``) as one space."""
    return " ".join(re.sub(r"\\[nrt]", " ", text).split())


def cut(text: str, limit: int) -> str:
    """``text`` whole when it fits, else cut at the last word boundary before ``limit`` with "…"."""
    if len(text) <= limit:
        return text
    head = text[: max(1, limit - 1)]
    space = head.rfind(" ")
    if space > limit // 2:
        head = re.sub(r"\s+(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$", "", head[:space])
    return head.rstrip(" ,;:(") + "…"


def short_url(url: str) -> str:
    """``/rest/v1/events?select=id,title,categ…&order=starts_at.asc``: path and query decoded, long or secret
    values shortened, the scheme and host left to the evidence."""
    return _short(url)


def _short(url: str) -> str:
    trail = ""
    while url and url[-1] in ".,;:)" and not (url[-1] == ")" and url.count("(") >= url.count(")")):
        url, trail = url[:-1], url[-1] + trail
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    if parts.query:
        pairs = []
        for pair in parts.query.split("&"):
            name, eq, value = pair.partition("=")
            name, value = unquote(name.replace("+", " ")), unquote(value.replace("+", " "))
            if _SECRET.search(name) and value:
                value = "…"
            elif len(value) > _VALUE:
                value = _short_value(value)
            pairs.append(f"{name}{eq}{value}")
        path += "?" + "&".join(pairs)
    return path + trail


def _short_value(value: str) -> str:
    """``*,venue:venues(id,name,city)`` -> ``*,venue:venues(…)``; ``id,title,category,...`` -> ``id,title,…``."""
    paren = value.find("(")
    if 0 < paren <= _VALUE:
        return value[: paren + 1] + "…)"
    head = value[:_VALUE]
    comma = head.rfind(",")
    return (head[: comma + 1] if comma > 0 else head) + "…"


def _counted(parts: list[str]) -> list[str]:
    """Each part once, in the order first seen, with ``3x`` before it when it came three times."""
    counts: dict[str, int] = {}
    for part in parts:
        part = part.strip()
        if part:
            counts[part] = counts.get(part, 0) + 1
    return [p if n == 1 else f"{n}x {p}" for p, n in counts.items()]


def _most_telling_first(parts: list[str]) -> list[str]:
    """The headline stays first; then uncaught exceptions and console messages; then the rest (URLs).
    A list introduced by "errors during the load: " keeps its introduction on its new first item."""
    start, intro = 1, ""
    for i, part in enumerate(parts):
        match = _LIST_HEAD.match(part)
        if match:
            start, intro = i, match.group("head")
            parts = [*parts[:i], match.group("first"), *parts[i + 1:]]
            break
    errors = _counted(parts[start:])
    errors = [p for p in errors if _TELLING.match(p)] + [p for p in errors if not _TELLING.match(p)]
    if intro and errors:
        errors[0] = intro + errors[0]
    return [*_counted(parts[:start]), *errors]
