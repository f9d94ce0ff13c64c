"""The playbook's severity levels and the conditions the checks can indicate, as one table of data.

A check names the condition its failure indicates (``@pytest.mark.condition("partial_outage")``) or raises
:class:`~scenescout_ir.core.outcomes.Finding` with another key; everything a person reads about a finding
(the playbook's name for it, its severity, what to do next) comes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    """Lower is worse, so ``min()`` of a run's severities is its verdict."""

    SEV1 = 1
    SEV2 = 2
    SEV3 = 3
    SEV4 = 4

    @property
    def level(self) -> str:
        return _LEVELS[self][0]

    @property
    def response(self) -> str:
        return _LEVELS[self][1]

    @property
    def headline(self) -> str:
        """``SEV2 - High - respond within 30 minutes``, as the verdict block prints it."""
        response = self.response.lower() if self.response != "Immediate" else "immediately"
        within = "" if self is Severity.SEV1 or self is Severity.SEV4 else "within "
        return f"{self.name} - {self.level} - respond {within}{response}"


_LEVELS = {
    Severity.SEV1: ("Critical", "Immediate"),
    Severity.SEV2: ("High", "30 minutes"),
    Severity.SEV3: ("Medium", "2 hours"),
    Severity.SEV4: ("Low", "Next business day"),
}

PLAYBOOK = "docs/playbook.md"  # a copy of the playbook, kept with the suite


@dataclass(frozen=True)
class Condition:
    key: str
    name: str  # the playbook's words for it
    severity: Severity
    component: str
    next_step: str
    section: str  # the playbook section the next step comes from
    group: str | None = None  # checks whose failing *together* means something worse ...
    escalates_to: str | None = None  # ... namely this condition
    # the limits its check compares against, name -> default: set in [targets.X.thresholds] like Thresholds'
    # fields (numbers; a name ending in _s is a duration) and read with target.thresholds.limit(name)
    limits: Mapping[str, float] = field(default_factory=dict, hash=False, compare=False)


_TABLE = (
    # --- site ------------------------------------------------------------------------------------
    Condition(
        "complete_outage", "Complete system outage", Severity.SEV1, "site",
        "Scenario 1: check DNS, CDN and the application server (ps, systemctl status), then the reverse "
        "proxy (nginx -t); restart the application (Recovery Procedures: Application Recovery).",
        "Common Incident Scenarios / Scenario 1: Complete Site Down",
    ),
    Condition(
        "partial_outage", "Partial system outage", Severity.SEV2, "site",
        "Find which component behind the failing endpoint is down (its body or status says which); "
        "check the application logs for it and restart that component.",
        "Incident Classification / Severity 2", group="user_facing", escalates_to="complete_outage",
    ),
    Condition(
        "dns_failure", "Complete system outage", Severity.SEV1, "site",
        "Scenario 1: the target's host name does not resolve: check the DNS records and the registrar, "
        "then whether the resolver of this machine works (nslookup against another resolver).",
        "Common Incident Scenarios / Scenario 1: Complete Site Down",
    ),
    Condition(
        "tls_certificate_expired", "Complete system outage", Severity.SEV1, "site",
        "The site's TLS certificate has expired: browsers refuse every page and API clients fail. Renew it "
        "(certbot renew, or the CDN's or host's certificate console), deploy it and reload the proxy "
        "(nginx -t && systemctl reload nginx); then find why the automatic renewal did not run.",
        "Incident Classification / Severity 1",
    ),
    Condition(
        "tls_certificate_expiring", "Minor configuration issues", Severity.SEV4, "site",
        "The site's TLS certificate expires soon: renew it before the date shown (certbot renew, or the CDN's "
        "certificate console) and check that the automatic renewal runs.",
        "Incident Classification / Severity 4", limits={"tls_expiry_days": 14},
    ),
    Condition(
        "slow_site", "Minor performance issues", Severity.SEV3, "site",
        "Scenario 4: identify the slow component (database statements, blocking queries, host load).",
        "Common Incident Scenarios / Scenario 4: Performance Degradation",
    ),
    Condition(
        "significant_degradation", "Significant performance degradation (>10 seconds response time)",
        Severity.SEV2, "site",
        "Scenario 4: identify the slow component (pg_stat_statements, blocking queries, host load) and "
        "shed load: disable the ingestion of the heaviest source if it competes with users.",
        "Common Incident Scenarios / Scenario 4: Performance Degradation",
    ),
    # --- database --------------------------------------------------------------------------------
    Condition(
        "database_connection", "Database connection problems", Severity.SEV2, "database",
        "Scenario 2: check the database server status with the hosting provider, then the connection "
        "pool; restart the pooler if applicable.",
        "Common Incident Scenarios / Scenario 2: Database Connection Failures",
    ),
    Condition(  # not a check's own: the verdict weighs the evidence (causes.weigh_evidence)
        "database_unreachable_app_up", "Minor configuration issues", Severity.SEV4, "database",
        "The suite cannot reach the database at its DSN's host:port, but the application's own health endpoint "
        "reports its database up: compare the suite's DSN (targets.toml dsn_env, DATABASE_URL by default) with "
        "the application's database settings (a mistyped port, a failover to another host, the pooler's port "
        "instead of the server's); if they match, check the network between this machine and the database. "
        "If the application's pages fail too, follow Scenario 2.",
        "Incident Classification / Severity 4",
    ),
    Condition(
        "connection_saturation", "Database connection problems", Severity.SEV2, "database",
        "Quick Fixes / Database Connection Issues: find who holds the connections (pg_stat_activity "
        "grouped by application and state), restart the pooler or the leaking client; terminate idle "
        "sessions only after confirming with their owner.",
        "Immediate Mitigation / Database Connection Issues",
    ),
    Condition(
        "stuck_transactions", "Single component degradation", Severity.SEV3, "database",
        "Kill long-running queries (if safe): pg_terminate_backend(pid) for the sessions listed, after "
        "confirming with the owning service; then find why it did not commit.",
        "Immediate Mitigation / Database Connection Issues",
    ),
    Condition(
        "blocking_locks", "Single component degradation", Severity.SEV3, "database",
        "Scenario 4: end the blocking session listed (it blocks the others), after confirming with its "
        "owner; the blocked statements then proceed.",
        "Common Incident Scenarios / Scenario 4: Performance Degradation",
    ),
    # --- ingestion -------------------------------------------------------------------------------
    Condition(
        "source_stale", "Single API source failure", Severity.SEV2, "ingestion",
        "Scenario 3: check the source's upstream API (status, rate limit), its ingestion function logs, "
        "and run a manual ingestion test for it; disable it in api_configurations if it keeps failing.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
        group="sources", escalates_to="all_sources_stale",
    ),
    Condition(
        "all_sources_stale", "Major data ingestion failure affecting all sources", Severity.SEV1,
        "ingestion",
        "Scenario 3 for every source at once points at the shared part: the scheduler or function "
        "runtime, the database writes, or the network egress; check those first.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
    ),
    Condition(
        "source_jobs_failing", "Single API source failure", Severity.SEV2, "ingestion",
        "Scenario 3: the source's ingestion job fails every run, even while its events are still fresh: read "
        "the error (a 429 is the vendor's rate limit: API Rate Limiting), check its upstream API (curl -I), "
        "supabase functions logs ingest_<source> --limit 50, run a manual ingestion test "
        "(node scripts/test-api-ingestion.js --source <source>); disable it in api_configurations if it keeps failing.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
        group="job_runs", escalates_to="all_sources_stale",
    ),
    Condition(
        "ingestion_job_failing", "Single component degradation", Severity.SEV3, "ingestion",
        "Some of the source's recent ingestion runs failed, others succeed: read the errors listed (a 429 is "
        "the vendor's rate limit: reduce the ingestion frequency) and watch the next runs; Scenario 3 if "
        "they keep failing.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
    ),
    # --- logs ------------------------------------------------------------------------------------
    Condition(
        "log_errors", "High error rates in logs", Severity.SEV3, "logs",
        "Error Analysis: read the errors listed with their context, group them by message to find the "
        "pattern, and follow the component they name.",
        "Investigation Phase / Error Analysis",
    ),
    # --- host ------------------------------------------------------------------------------------
    Condition(
        "disk_space", "Single component degradation", Severity.SEV3, "host",
        "Disk Space Issues: clean up old logs (find logs/ -name '*.log' -mtime +7) and temp files; "
        "check what grew.",
        "Immediate Mitigation / Disk Space Issues",
    ),
    Condition(
        "memory", "Single component degradation", Severity.SEV3, "host",
        "High Memory Usage: find the memory hogs (the processes listed) and restart them if needed.",
        "Immediate Mitigation / High Memory Usage",
    ),
    Condition(
        "out_of_memory", "Partial system outage", Severity.SEV2, "host",
        "High Memory Usage: a process ran out of memory and was killed or crashed (the log lines listed): "
        "restart it, then find what grew (ps aux --sort=-%mem | head) before it runs out again.",
        "Immediate Mitigation / High Memory Usage",
    ),
    Condition(
        "host_load", "Minor performance issues", Severity.SEV3, "host",
        "Check system resources: which processes use the CPU (the processes listed).",
        "Investigation Phase / System Status Investigation",
    ),
    # --- browser and routes (comprehensive) ------------------------------------------------------
    Condition(
        "route_down", "Partial system outage", Severity.SEV2, "site",
        "A user-facing route fails: check the application logs for it; roll back the last deploy if it "
        "started with it.",
        "Incident Classification / Severity 2", group="user_facing", escalates_to="complete_outage",
    ),
    Condition(
        "route_feature_failure", "Non-critical feature failures", Severity.SEV3, "site",
        "A secondary route fails (not a critical one such as the home page): check the application logs for "
        "it; fix or roll back the deploy that broke it.",
        "Incident Classification / Severity 3",
    ),
    Condition(
        "home_no_events", "Partial system outage", Severity.SEV2, "browser",
        "The home page renders no events although it loads: check the browser console errors and the "
        "failed requests listed (the API or database service the page calls), then the front-end deploy.",
        "Resolution and Recovery / Verify Fix",
    ),
    Condition(
        "feature_failure", "Non-critical feature failures", Severity.SEV3, "browser",
        "A secondary page is broken: see its console errors and failed requests; fix or roll back.",
        "Incident Classification / Severity 3",
    ),
    Condition(
        "cosmetic", "Cosmetic issues", Severity.SEV4, "browser",
        "Broken images or other cosmetic faults: fix in the next business day.",
        "Incident Classification / Severity 4",
    ),
    # --- database integrity and recovery (comprehensive) -----------------------------------------
    Condition(
        "database_in_recovery", "Database connection problems", Severity.SEV2, "database",
        "Database Recovery: the server is in recovery (a standby, or still replaying WAL): writes fail. "
        "Check the hosting provider's failover status; point the app at the primary.",
        "Recovery Procedures / Database Recovery",
    ),
    Condition(
        "data_loss", "Data loss or corruption", Severity.SEV1, "database",
        "Data Recovery: stop writes that could make it worse, find when the rows went (the baseline "
        "snapshot's time), restore from backup (restore-from-backup.sh) and verify data integrity.",
        "Recovery Procedures / Data Recovery",
    ),
    Condition(
        "transaction_id_wraparound", "Single component degradation", Severity.SEV3, "database",
        "Database Recovery: VACUUM (FREEZE) the oldest tables of the database named (SELECT relname, "
        "age(relfrozenxid) FROM pg_class ORDER BY 2 DESC LIMIT 10) and find what holds vacuum back: a long open "
        "transaction, an abandoned replication slot or prepared transaction. At 2^31 PostgreSQL stops accepting "
        "writes.",
        "Recovery Procedures / Database Recovery", limits={"xid_age_ratio": 0.5},
    ),
    Condition(
        "duplicate_events", "Single component degradation", Severity.SEV3, "database",
        "Duplicate events by (source, external_id): find the ingestion run that wrote them (job_runs), "
        "remove the duplicates and add a unique constraint.",
        "Recovery Procedures / Data Recovery",
    ),
    Condition(
        "ingestion_not_recovered", "Single API source failure", Severity.SEV2, "ingestion",
        "Verify event ingestion resumed: check the source's latest job run and its error, its upstream API, "
        "and backfill the gap (backfill-events.js) once it runs again.",
        "Resolution and Recovery / Verify Fix", group="recovery", escalates_to="all_sources_stale",
    ),
    Condition(
        "job_failed", "Single API source failure", Severity.SEV2, "ingestion",
        "Scenario 3: read the failed job run's error, check the upstream API and run a manual ingestion test.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
    ),
    Condition(
        "source_disabled", "Minor configuration issues", Severity.SEV4, "ingestion",
        "A source is disabled in api_configurations (perhaps during a mitigation): re-enable it when its "
        "upstream is healthy (UPDATE api_configurations SET enabled = true WHERE source = ...).",
        "Immediate Mitigation / API Rate Limiting",
    ),
    # --- upstream APIs and critical components ---------------------------------------------------
    Condition(
        "upstream_rate_limited", "Single API source failure", Severity.SEV2, "upstream",
        "API Rate Limiting: check the rate-limit status; reduce the ingestion frequency or temporarily "
        "disable the source in api_configurations.",
        "Immediate Mitigation / API Rate Limiting",
    ),
    Condition(
        "upstream_down", "Single API source failure", Severity.SEV2, "upstream",
        "Scenario 3: the source's upstream API fails or hangs: check its status page; disable the source "
        "until it recovers.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
    ),
    Condition(
        "auth_failure", "Authentication issues", Severity.SEV2, "auth",
        "Authentication health fails: check the auth provider's status and the app's auth configuration.",
        "Incident Classification / Severity 2",
    ),
    Condition(
        "payment_failure", "Payment system failure", Severity.SEV1, "payments",
        "Payment health fails: check the payment provider's status; communicate externally (SEV1).",
        "Incident Classification / Severity 1",
    ),
    # --- performance ------------------------------------------------------------------------------
    Condition(
        "slow_statements", "Minor performance issues", Severity.SEV3, "database",
        "Database performance check: the statements listed are slow on average; EXPLAIN them, add the "
        "missing index or cache the result.",
        "Resolution and Recovery / Performance Validation",
    ),
    Condition(
        "database_efficiency", "Minor performance issues", Severity.SEV3, "database",
        "Low cache hit ratio, temporary files, deadlocks or recovery conflicts: see the counters listed; "
        "tune work_mem/shared_buffers or the queries that spill.",
        "Resolution and Recovery / Performance Validation",
    ),
    Condition(
        "missing_index", "Minor performance issues", Severity.SEV3, "database",
        "Create the index named in the finding (CREATE INDEX CONCURRENTLY ...) so the freshness query stays "
        "fast on a large table.",
        "Investigation Phase / Application-Specific Checks",
    ),
    Condition(
        "browser_timing", "Minor performance issues", Severity.SEV3, "browser",
        "Scenario 4: the page is slow for users (timings listed): check TTFB first (server), then the "
        "largest resources (front end).",
        "Common Incident Scenarios / Scenario 4: Performance Degradation",
    ),
    # --- the provider: a Supabase project (checks/test_provider.py, scenescout_ir/judge/provider.py) ------------
    Condition(
        "provider_project_down", "Complete system outage", Severity.SEV1, "provider",
        "The Supabase project itself is not serving (the finding says its status): restore it (dashboard > "
        "Project > Restore project) or wait for the restore/restart named; if the provider's status page shows "
        "an incident, follow it there. Restarting the app or the pooler does not help.",
        "Common Incident Scenarios / Scenario 2: Database Connection Failures",
    ),
    Condition(
        "provider_service_unhealthy", "Partial system outage", Severity.SEV2, "provider",
        "A Supabase service the app needs (db, rest, pooler) is unhealthy on the provider's side: check "
        "status.supabase.com and the dashboard's service health, follow the provider's incident (open a ticket "
        "if there is none); the app is not at fault, do not restart it.",
        "Common Incident Scenarios / Scenario 2: Database Connection Failures",
    ),
    Condition(
        "provider_service_degraded", "Single component degradation", Severity.SEV3, "provider",
        "A secondary Supabase service (auth, storage, realtime) is unhealthy on the provider's side: check "
        "status.supabase.com and the dashboard; follow the provider's incident.",
        "Incident Classification / Severity 3",
    ),
    Condition(
        "function_missing", "Single API source failure", Severity.SEV2, "ingestion",
        "Scenario 3: the source's ingestion edge function is not deployed or not ACTIVE: redeploy it "
        "(supabase functions deploy <name>), check who removed it, and for THROTTLED its invocation volume.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure",
    ),
    Condition(
        "function_errors", "High error rates in logs", Severity.SEV3, "ingestion",
        "Scenario 3: the source's edge function logs errors (supabase functions logs <name>): read the latest "
        "ones listed (a 429 is the vendor's rate limit), check its upstream API and run a manual ingestion test.",
        "Common Incident Scenarios / Scenario 3: API Ingestion Failure", limits={"function_min_errors": 5},
    ),
    Condition(
        "api_error_rate", "High error rates in logs", Severity.SEV3, "api",
        "Error Analysis: the data API (PostgREST) or Auth answers 5xx to a share of requests over the limit: "
        "read the API logs (dashboard > Logs > API Gateway) for the failing paths, then the Postgres logs.",
        "Investigation Phase / Error Analysis", limits={"api_error_ratio": 0.05, "api_min_requests": 20},
    ),
    Condition(
        "advisor_lints", "Minor configuration issues", Severity.SEV4, "advisors",
        "Supabase's advisors report the lints listed: fix each by its remediation link in the next business day.",
        "Incident Classification / Severity 4",
    ),
    # --- a failing check that names no condition (no @pytest.mark.condition, or an unknown key) -------
    Condition(
        "unclassified", "Single component degradation", Severity.SEV3, "unclassified",
        "A check without a playbook condition failed: read its finding and evidence, decide the severity by "
        "the playbook's Incident Classification, and give the check a condition marker.",
        "Incident Classification / Severity 3",
    ),
)

CONDITIONS: dict[str, Condition] = {c.key: c for c in _TABLE}
UNCLASSIFIED = "unclassified"  # the condition of a failing check that names none (or an unknown one)


def declared_limits() -> dict[str, float]:
    """Every limit the conditions declare, name -> default."""
    return {name: default for c in _TABLE for name, default in c.limits.items()}


def condition(key: str) -> Condition:
    try:
        return CONDITIONS[key]
    except KeyError:
        raise KeyError(f"unknown playbook condition {key!r} (known: {', '.join(sorted(CONDITIONS))})") from None
