"""Scenario 3: API Ingestion Failure - what the ingestion logs say about each source.

The upstream APIs and job runs are checked in checks/test_upstream.py and checks/test_recovery.py; this deep-dive
reads `supabase functions logs ingest_<source>` the way the playbook does, from the configured log files.
"""

import pytest

from scenescout_ir.core.outcomes import CouldNotRun

pytestmark = pytest.mark.comprehensive


@pytest.mark.playbook(
    "supabase functions logs ingest_ticketmaster --limit 50",
    "supabase functions logs ingest_eventbrite --limit 50",
)
@pytest.mark.condition("job_failed")
def test_ingestion_function_logs(logs, target, source):
    """supabase functions logs ingest_ticketmaster --limit 50 ; ... ingest_eventbrite --limit 50"""
    limits = target.thresholds
    if not target.logs:
        pytest.skip(f"not applicable: no logs configured in targets.toml (targets.{target.name}.logs = [])")
    errors, readable = [], 0
    for path in target.logs:
        try:
            scan = logs.scan(path, limits.log_window_s, limits.log_max_bytes, timezone=target.log_timezone(path))
        except CouldNotRun:
            continue
        readable += 1
        errors += [line.text.strip() for line in scan.errors if source.name in line.text]
    if not readable:
        raise CouldNotRun(f"none of the log files can be read: {', '.join(map(str, target.logs))}")
    assert len(errors) < limits.log_min_errors, (
        f"{source.name}: {len(errors)} errors in the last {limits.log_window_s / 60:g} min of the ingestion logs "
        f"(limit: {limits.log_min_errors}); latest: {errors[-1][:200]}"
    )
