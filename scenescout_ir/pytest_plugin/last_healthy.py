"""The run compared with the last healthy one: an OK run's fingerprint is kept, any other run lists what changed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scenescout_ir.core.redact import Redactor
from scenescout_ir.judge import fingerprint
from scenescout_ir.judge.verdict import CheckRecord, Verdict


def compare_with_last_healthy(
    verdict: Verdict, records: list[CheckRecord], reports_dir: Path, target_name: str, redact: Redactor
) -> Verdict:
    """An OK run's fingerprint becomes the last healthy one; any other run is compared with it."""
    fp = fingerprint.build([r.to_dict() for r in records], verdict.started_at)
    path = fingerprint.fingerprint_file(reports_dir, target_name)
    healthy_run = verdict.severity is None and not verdict.interrupted and not verdict.blind
    try:
        last = fingerprint.load(path)
        if healthy_run and verdict.counts["passed"]:
            fingerprint.save(path, fingerprint.merge(last, fp), redact)
            return replace(verdict, fingerprint=fp)
    except OSError:  # a fingerprint is a help, never a reason for a run to fail
        return replace(verdict, fingerprint=fp)
    if last is None or verdict.severity is None:
        return replace(verdict, fingerprint=fp)
    changes = [c.to_dict() for c in fingerprint.diff(last, fp)]
    return replace(verdict, fingerprint=fp, changes=changes, changes_since=str(last.get("taken_at")))
