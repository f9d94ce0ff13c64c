"""An ingestion source's latest job runs, read once and judged by one rule (emergency and recovery checks).

The rule (README, "Severity rules"): a source whose last N finished runs (integrity.job_failure_runs,
default 3) all failed is a Single API source failure (SEV2, source_jobs_failing), even while its events are
still fresh; some of them failing, others succeeding, is a degradation (SEV3, ingestion_job_failing). A run
is failed when its status is one of integrity.job_failure_statuses (any case); any other word is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scenescout_ir.core.outcomes import CouldNotRun

# a run in progress says nothing yet: the finished ones before it count
JOB_IN_PROGRESS = frozenset({"running", "pending", "queued", "started", "in_progress", "in progress", "scheduled"})


def job_run_failed(status: Any, failure_statuses: tuple[str, ...]) -> bool:
    """A run failed when its status is one of the configured failure words (any case): any other word
    ("success", "completed", "ok", "done", "partial") is not a failure, so a schema needs no configuration."""
    return str(status or "").strip().lower() in {s.strip().lower() for s in failure_statuses}


def job_in_progress(status: Any) -> bool:
    return str(status or "").strip().lower() in JOB_IN_PROGRESS


def job_error_text(run: Any, error_column: str | None = None) -> str:
    """A job run's error text: the configured column, else the first non-empty column named like *error*."""
    if not isinstance(run, dict):
        return ""
    if error_column:
        value = run.get(error_column)
        return _one_line(value) if value else ""
    for key, value in run.items():
        if "error" in str(key).lower() and value:
            return _one_line(value)
    return ""


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("message") or value.get("msg") or value
    return " ".join(str(value).split())[:300]


@dataclass(frozen=True)
class JobRun:
    status: str
    started_at: datetime | None
    failed: bool
    error: str


@dataclass(frozen=True)
class JobHistory:
    job: str
    wanted: int  # N: the runs judged
    runs: tuple[JobRun, ...]  # finished runs, newest first, at most N
    in_progress: int  # newer runs still running (not judged)

    @property
    def failed(self) -> tuple[JobRun, ...]:
        return tuple(r for r in self.runs if r.failed)

    @property
    def all_failed(self) -> bool:
        """The last N runs (N of them at least) all failed: a burst, not a blip."""
        return len(self.runs) >= self.wanted and len(self.failed) == len(self.runs)

    @property
    def latest(self) -> JobRun | None:
        return self.runs[0] if self.runs else None

    def latest_error(self) -> str:
        return next((r.error for r in self.runs if r.failed and r.error), "")


def recent_job_runs(db: Any, target: Any, source: Any) -> JobHistory:
    """The latest N finished runs of ``<job_prefix><source>``; CouldNotRun (with the key to set) when the
    table, a column or the job's rows are missing."""
    i = target.integrity
    job = f"{i.job_prefix}{source.name}"
    wanted = max(1, i.job_failure_runs)
    try:
        rows = db.query(
            "recent_job_runs", {"job": job, "limit": wanted + 10}, table=i.job_runs_table,
            name_column=i.job_name_column, status_column=i.job_status_column, time_column=i.job_time_column,
        ).records()
    except CouldNotRun as exc:
        if str(exc).startswith("recent_job_runs:"):  # a missing table or column, not a dead database
            raise CouldNotRun(
                f"{exc} (name the job runs table and its columns in targets.{target.name}.integrity: "
                "job_runs_table, job_name_column, job_status_column, job_time_column)"
            ) from None
        raise
    if not rows:
        raise CouldNotRun(
            f"no {i.job_runs_table} row for job {job!r}: check targets.{target.name}.integrity.job_prefix and "
            "job_name_column"
        )
    finished = [r for r in rows if not job_in_progress(r["status"])]
    runs = tuple(
        JobRun(
            status=str(r["status"]), started_at=r["started_at"],
            failed=job_run_failed(r["status"], i.job_failure_statuses),
            error=job_error_text(r["run"], i.job_error_column),
        )
        for r in finished[:wanted]
    )
    in_progress = next((n for n, r in enumerate(rows) if not job_in_progress(r["status"])), len(rows))
    return JobHistory(job, wanted, runs, in_progress)


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}".strip() if isinstance(moment, datetime) else str(moment)
