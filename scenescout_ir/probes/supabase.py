"""The Supabase provider's I/O: its Management API and its status page, read-only, bounded, asked once.

Request and response shapes follow Supabase's own OpenAPI description as the Supabase CLI carries it
(github.com/supabase/cli, apps/cli-go/pkg/api/client.gen.go and types.gen.go, snapshot 1d1e719 of June 2026):

- ``GET /v1/projects/{ref}``: ``V1ProjectWithDatabaseResponse`` (``ref``, ``name``, ``region``, ``status``:
  ACTIVE_HEALTHY, ACTIVE_UNHEALTHY, COMING_UP, GOING_DOWN, INACTIVE, INIT_FAILED, PAUSE_FAILED, PAUSING, REMOVED,
  RESIZING, RESTARTING, RESTORE_FAILED, RESTORING, UNKNOWN, UPGRADING);
- ``GET /v1/projects/{ref}/health?services=db&services=rest...`` (form, exploded; ``timeout_ms`` optional):
  a list of ``V1ServiceHealthResponse`` (``name``, ``healthy`` (deprecated), ``status``: ACTIVE_HEALTHY,
  COMING_UP, UNHEALTHY, ``error``);
- ``GET /v1/projects/{ref}/functions``: a list of ``FunctionResponse`` (``id``, ``slug``, ``name``, ``status``:
  ACTIVE, REMOVED, THROTTLED, ``version``, ``updated_at``);
- ``GET /v1/projects/{ref}/advisors/performance`` and ``.../advisors/security``: ``V1ProjectAdvisorsResponse``
  (``lints``: ``name``, ``title``, ``level`` ERROR/WARN/INFO, ``categories``, ``detail``, ``remediation``...);
- the log query: ``GET /v1/projects/{ref}/analytics/endpoints/logs`` with ``sql``, ``iso_timestamp_start`` and
  ``iso_timestamp_end`` -> ``AnalyticsResponse`` (``result``: rows, ``error``). It replaced ``logs.all`` on
  2026-09-23 (supabase.com/changelog/48235, "Migration of Supabase Management API logs.all analytics endpoint
  to logs endpoint"): ClickHouse SQL over one ``logs`` table filtered by ``source_name``, a window of at most
  24 h; structured fields are keys of ``log_attributes`` (supabase.com/docs/guides/observability/
  log-field-reference: ``metadata.request.path`` is ``log_attributes['request.path']``).

Authentication is ``Authorization: Bearer <token>`` (a personal access token or an OAuth token). The status page
is Statuspage's public ``/api/v2/summary.json`` (``status``, ``components``, ``incidents``), asked without it.

Every request starts when the session starts (``prefetch``), with the run's connect and read timeouts, so a hung
Management API costs the run one read timeout, once, whatever the number of checks asking it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from scenescout_ir.core.config import Supabase, Timeouts
from scenescout_ir.core.evidence import Evidence
from scenescout_ir.probes.http import HttpProbe, HttpResult, _evidence

MAX_WINDOW_S = 24 * 3600  # the log endpoint's widest window

FUNCTION_LOGS_SQL = (
    "SELECT id, timestamp, event_message, severity_text, log_attributes['function_id'] AS function_id "
    "FROM logs WHERE {column} = '{source}' ORDER BY timestamp DESC LIMIT {limit}"
)
API_LOGS_SQL = (
    "SELECT id, timestamp, log_attributes['request.path'] AS path, "
    "log_attributes['response.status_code'] AS status_code "
    "FROM logs WHERE {column} = '{source}' ORDER BY timestamp DESC LIMIT {limit}"
)


@dataclass(frozen=True)
class ApiAnswer:
    """One answer of the provider: what was asked, and the exchange (status, body, or why there is none)."""

    what: str  # "project", "health", "functions", "function logs", "API logs", "performance advisors", ...
    result: HttpResult

    @property
    def status(self) -> int | None:
        return self.result.status

    def data(self) -> Any:
        return self.result.json()

    def describe(self) -> str:
        return self.result.describe()

    def header(self, name: str) -> str:
        return next((v for k, v in self.result.headers.items() if k.lower() == name.lower()), "")


class SupabaseProbe:
    """The Management API of one project, and the provider's status page."""

    def __init__(self, settings: Supabase, token: str, timeouts: Timeouts, record: Callable[[Evidence], None],
                 window_s: float, now: datetime | None = None) -> None:
        assert settings.project_ref is not None
        self.settings = settings
        self._token = token
        self._http = HttpProbe(timeouts, record)  # its own memory of hosts: a hung API never slows the site's checks
        self._record = record
        self._answers: dict[str, ApiAnswer] = {}  # asked once per run; a second check reading it gets the same
        end = now or datetime.now(UTC)
        self.window_s = min(window_s, MAX_WINDOW_S)
        self.window = (end - timedelta(seconds=self.window_s), end)  # one window for every log query of the run

    @property
    def requests_made(self) -> int:
        return self._http.requests_made

    def close(self) -> None:
        self._http.close()

    # --- the requests --------------------------------------------------------------------------------------
    def _api(self, path: str, query: list[tuple[str, str]] | None = None) -> str:
        ref = self.settings.project_ref
        return f"{self.settings.api_url.rstrip('/')}/v1/projects/{ref}{path}" + (
            "?" + urlencode(query) if query else "")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    def requests(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Every request the provider checks make, by what it asks: (URL, headers)."""
        s = self.settings
        start, end = (t.isoformat(timespec="seconds").replace("+00:00", "Z") for t in self.window)
        window = [("iso_timestamp_start", start), ("iso_timestamp_end", end)]
        function_sql = FUNCTION_LOGS_SQL.format(column=s.log_source_column, source=s.function_log_source,
                                                limit=s.log_rows)
        api_sql = API_LOGS_SQL.format(column=s.log_source_column, source=s.api_log_source, limit=s.log_rows)
        out = {
            "project": (self._api(""), self._headers()),
            "health": (self._api("/health", [("services", name) for name in s.services]), self._headers()),
            "functions": (self._api("/functions"), self._headers()),
            "function logs": (self._api("/analytics/endpoints/logs", [("sql", function_sql), *window]),
                              self._headers()),
            "API logs": (self._api("/analytics/endpoints/logs", [("sql", api_sql), *window]), self._headers()),
            "performance advisors": (self._api("/advisors/performance"), self._headers()),
            "security advisors": (self._api("/advisors/security"), self._headers()),
        }
        if s.status_url:
            out["status page"] = (s.status_url, {"Accept": "application/json"})  # public: never the token
        return out

    def prefetch(self, which: set[str]) -> None:
        """Start the named requests now, all at once (the session's start); the checks read their answers.
        Without a token only the public status page is asked."""
        wanted = self.requests()
        if not self._token:
            which = which & {"status page"}
        self._http.prefetch([wanted[name] for name in sorted(which) if name in wanted])

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def ask(self, what: str) -> ApiAnswer:
        """The answer to ``what`` (a key of :meth:`requests`), recorded as the asking check's evidence."""
        known = self._answers.get(what)
        if known is not None:
            self._record(_evidence(known.result))
            return known
        url, headers = self.requests()[what]
        answer = ApiAnswer(what, self._http.get(url, headers=headers))
        self._answers[what] = answer
        return answer

    # --- what the checks judged, kept as evidence beside the exchanges ------------------------------------------
    def note_errors(self, seen: Any, rows: int) -> None:
        """A function's errors, counted by message like a log file's (the fingerprint compares the signatures)."""
        head = (f"{len(seen.errors)} errors in {seen.lines} log lines of {seen.slug} ({rows} function log rows "
                f"read, window {self.window[0]:%H:%M:%S}-{self.window[1]:%H:%M:%S} UTC)")
        patterns = "\n".join(f"{count:>6} {sig}" for sig, count in seen.signatures)
        latest = "\n".join(f"{t} {message[:300]}" for t, message in seen.errors[:10])
        text = "\n\n".join(part for part in (head, patterns, latest) if part)
        self._record(Evidence("log", f"errors in {seen.slug} (Supabase function logs)", text,
                              {"file": f"supabase:{seen.slug}", "error_count": len(seen.errors),
                               "lines": seen.lines, "signatures": [[sig, n] for sig, n in seen.signatures]}))

    def note_status(self, lines: list[str], region: str | None) -> None:
        """What the provider's status page says, as context for the verdict (never a finding of its own)."""
        text = "\n".join(lines) or f"all operational{f' for {region}' if region else ''}"
        self._record(Evidence("provider_status", "Supabase status page", text, {"lines": lines, "region": region}))
