"""One place that scrubs secrets from every message, attachment and report before anyone sees them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

MASK = "***"

# userinfo of a URL (postgresql://user:PASSWORD@host), key=value secrets in DSNs, query strings and logs,
# and the headers that carry credentials
_PATTERNS = (
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<secret>[^@\s/]+)(?=@)", re.I),
    re.compile(
        r"(?P<keep>\b(?:password|passwd|pwd|apikey|api_key|api-key|access_token|token|secret|client_secret)"
        r"\s*[=:]\s*['\"]?)(?P<secret>[^\s&'\",;]+)",
        re.I,
    ),
    re.compile(r"(?P<keep>\b(?:authorization|cookie|set-cookie|x-api-key)['\"]?\s*[:=]\s*['\"]?)(?P<secret>[^\r\n'\"]+)",
               re.I),
)
# what every one of those patterns needs somewhere in a text (matched the same way: ignoring case, Unicode's
# folding included); most texts have none, and are spared the three substitutions
_CUE = re.compile(r"://|pass|pwd|api.?key|token|secret|authorization|cookie", re.I)
_MEMO_LEN = 200  # texts up to this long are remembered, redacted: a report's keys and short values repeat
_MEMO_SIZE = 4096


# what a terminal would act on instead of showing: C0 controls but newline and tab, DEL, C1 controls; and the
# ANSI escape sequences a hostile body or log line may carry (colours, cursor moves, a retitled terminal)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f\x7f-\x9f])\1*")


def printable(text: str) -> str:
    """Text safe to print: CRLF as a newline, ANSI escape sequences removed, every other control character
    (a NUL byte, a lone CR, a bell) shown escaped, a run of one as ``\\x00×1500``."""
    if not _CONTROL.search(text):
        return text
    text = _ANSI.sub("", text.replace("\r\n", "\n"))

    def escape(match: re.Match[str]) -> str:
        shown = repr(match.group(1))[1:-1]
        count = len(match.group(0))
        return shown if count == 1 else f"{shown}×{count}"

    return _CONTROL.sub(escape, text)


class Redactor:
    """Replaces known secret values and anything shaped like a credential with ``***``; and every control
    character with its escape (:func:`printable`): what the suite shows never carries raw bytes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            values.update(_secret_parts(secret))
        # longest first, so a password inside a DSN does not leave half the DSN behind
        self._values = sorted((v for v in values if len(v) >= 4), key=len, reverse=True)
        self._memo: dict[str, str] = {}

    def __call__(self, text: Any) -> str:
        text = str(text)
        done = self._memo.get(text)
        if done is not None:
            return done
        out = text
        if _CUE.search(out):
            for pattern in _PATTERNS:  # shapes first, so a DSN keeps its user and host
                out = pattern.sub(lambda m: m.group("keep") + MASK, out)
        for value in self._values:
            out = out.replace(value, MASK)
        out = printable(out)
        if len(text) <= _MEMO_LEN and len(self._memo) < _MEMO_SIZE:
            self._memo[text] = out
        return out

    def data(self, value: Any) -> Any:
        """Redact every string inside a JSON-like structure."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def _secret_parts(secret: str) -> set[str]:
    """The secret itself, and for a DSN its password in plain and URL-decoded form."""
    parts = {secret}
    match = _PATTERNS[0].search(secret)
    if match:
        parts.update({match.group("secret"), unquote(match.group("secret"))})
    for kv in re.finditer(r"\bpassword\s*=\s*'?([^\s']+)", secret):
        parts.add(kv.group(1))
    return parts


def safe_dsn(dsn: str) -> str:
    """A DSN fit to print: the password masked."""
    return Redactor()(dsn)
