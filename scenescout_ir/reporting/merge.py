"""Many runs, one report: ``python -m scenescout_ir merge DIR...`` (a CI matrix's jobs, or the targets of one run).

Each DIR is what a run left (its ``reports/``: ``verdict.json`` and its kept run's Allure results, as a CI job
uploads it). The merge writes into ``--output`` (default ``reports/merged``):

- ``verdict.json``: ``severity`` the worst of all targets (``OK`` only when every target is OK), ``targets``
  (each target's verdict: severity, headline, counts, base URL, where it came from), and ``findings``,
  ``waived``, ``flaky``, ``could_not_run``, ``blind`` of every target, each entry carrying its ``target``;
- ``allure-results/``: every run's results, each labelled with its target (``parentSuite`` and a ``target``
  label; history ids made per target, so production and staging are not each other's retries) and the
  environment of every target (``production.base_url = ...``); ``--html FILE`` renders it (Allure 3);
- ``summary.md``: the job summary (appended to ``$GITHUB_STEP_SUMMARY`` when that is set).

Exit code (the gate): 1 when any target has a finding; else 2 when a run was interrupted or a DIR holds no
verdict (that job did not finish: the deployment was not verified); else 6 when a component of a target
could not be checked; else 7 when a check was FLAKY and ``--flaky-fails``; else 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenescout_ir.core.conditions import Severity
from scenescout_ir.judge.verdict import Verdict, read
from scenescout_ir.reporting import report

MERGED_DIR = "reports/merged"
NO_VERDICT = "NO VERDICT"
SUMMARY = "summary.md"


@dataclass(frozen=True)
class Run:
    source: Path
    verdict: Verdict | None  # None: the dir holds no verdict (the job did not finish)
    results: Path | None  # its Allure results

    @property
    def target(self) -> str:
        return self.verdict.target if self.verdict else self.source.name.removeprefix("reports-")  # a CI artifact

    @property
    def label(self) -> str:
        return self.verdict.label if self.verdict else NO_VERDICT


def read_run(directory: Path) -> Run:
    """A run's reports dir: its verdict and the Allure results of the kept run it names."""
    verdict = read(directory / report.VERDICT)
    if verdict is None:
        return Run(directory, None, None)
    return Run(directory, verdict, _results_of(directory, verdict))


def _results_of(directory: Path, verdict: Verdict) -> Path | None:
    """The results of the kept run whose verdict is this one (same start and target): none when that run kept no
    results (Allure was off), never another run's; only where no kept run is this one, the newest results there."""
    for run_dir in report.runs(directory):
        kept = report.read_verdict(run_dir)
        if kept and (kept.started_at, kept.target) == (verdict.started_at, verdict.target):
            results = run_dir / report.RESULTS
            return results if results.is_dir() else None
    latest = directory / report.RESULTS
    return latest if latest.is_dir() else None


def exit_code(runs: list[Run], flaky_fails: bool = False) -> int:
    labels = [r.label for r in runs]
    if any(label.startswith("SEV") for label in labels):
        return 1
    if any(label in ("INTERRUPTED", NO_VERDICT) for label in labels):
        return 2
    if any(r.verdict and r.verdict.blind for r in runs):
        return 6
    if flaky_fails and any(r.verdict and r.verdict.flaky for r in runs):
        return 7
    return 0


def worst(labels: list[str]) -> str:
    """SEV1 < SEV2 < ... < the states that are not a verdict < OK."""
    order = {s.name: i for i, s in enumerate(sorted(Severity))}
    rank = {**order, "INTERRUPTED": 90, NO_VERDICT: 91, "NOT CHECKED": 92, "OK": 99}
    return min(labels, key=lambda label: rank.get(label, 95), default="OK")


def combined(runs: list[Run]) -> dict[str, Any]:
    targets = []
    out: dict[str, Any] = {key: [] for key in ("findings", "waived", "flaky", "could_not_run", "broken", "blind")}
    for run in runs:
        v = run.verdict.to_dict() if run.verdict else {}  # the merged verdict.json is JSON: its boundary
        label = run.label  # NOT CHECKED, not OK, when a component was blind (Verdict.label)
        targets.append({
            "target": run.target, "severity": label, "response": v.get("response"), "base_url": v.get("base_url"),
            "started_at": v.get("started_at"), "duration_s": v.get("duration_s"), "counts": v.get("counts", {}),
            "probable_cause": (v.get("probable_causes") or [{}])[0].get("finding"),
            "source": str(run.source),
        })
        for key in out:
            out[key] += [{**entry, "target": run.target} for entry in v.get(key) or [] if isinstance(entry, dict)]
    starts = [t["started_at"] for t in targets if t["started_at"]]
    ends = [r.verdict.finished_at for r in runs if r.verdict and r.verdict.finished_at]
    counts: dict[str, int] = {}
    for t in targets:
        for key, n in (t["counts"] or {}).items():
            counts[key] = counts.get(key, 0) + int(n)
    return {
        "severity": worst([t["severity"] for t in targets]),
        "targets": targets,
        "started_at": min(starts, default=None), "finished_at": max(ends, default=None),
        "counts": counts,
        **out,
    }


def combined_line(merged: dict[str, Any]) -> str:
    """``COMBINED VERDICT: SEV2 - production SEV2, staging OK``"""
    per = ", ".join(f"{t['target']} {t['severity']}" for t in merged["targets"])
    return f"COMBINED VERDICT: {merged['severity']} - {per}"


def merge_results(runs: list[Run], output: Path) -> int:
    """Every run's Allure results into ``output``, labelled with its target; returns how many results."""
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    env: list[str] = []
    count = 0
    for run in runs:
        if run.results is None:
            continue
        for path in sorted(run.results.resolve().iterdir()):
            if path.name.endswith("-result.json"):
                (output / path.name).write_text(json.dumps(_labelled(json.loads(path.read_text()), run.target)))
                count += 1
            elif path.name == "environment.properties":
                env += [f"{run.target}.{line}" for line in path.read_text().splitlines() if "=" in line]
            elif path.is_file() and not (output / path.name).exists():  # attachments, containers, categories
                _link_or_copy(path, output / path.name)
    (output / "environment.properties").write_text("\n".join(env) + ("\n" if env else ""))
    return count


def _link_or_copy(source: Path, dest: Path) -> None:
    """A hard link where the file system allows it (the merge of a many-targets run sits beside the targets'
    results: no byte is copied), else a copy (another file system, an artifact directory mounted read-only)."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _labelled(result: dict[str, Any], target: str) -> dict[str, Any]:
    labels = [lb for lb in result.get("labels", []) if lb.get("name") not in ("parentSuite", "target")]
    result["labels"] = [*labels, {"name": "parentSuite", "value": target}, {"name": "target", "value": target}]
    for key in ("historyId", "testCaseId"):
        if result.get(key):
            result[key] = hashlib.md5(f"{target}:{result[key]}".encode()).hexdigest()  # noqa: S324 (an id)
    result["name"] = f"{result.get('name', '')} [{target}]"
    return result


def summary(merged: dict[str, Any]) -> str:
    """The job summary: one line per target, then the findings (Markdown)."""
    lines = [f"## SceneScout deploy gate: {merged['severity']}", "",
             "| target | verdict | checks | probable cause |", "|---|---|---|---|"]
    for t in merged["targets"]:
        n = t["counts"] or {}
        checks = f"{n.get('passed', 0)} passed, {n.get('failed', 0)} found a problem, " \
                 f"{n.get('could_not_run', 0)} could not run" + (
                     f", {n['waived']} waived" if n.get("waived") else "") + (
                     f", {n['flaky']} flaky" if n.get("flaky") else "")
        lines.append(f"| {t['target']} | **{t['severity']}** | {checks} | {_cell(t['probable_cause'] or '')} |")
    for key, title in (("findings", "Findings"), ("flaky", "FLAKY (passed on a retry)"),
                       ("waived", "WAIVED (accepted until their expiry)")):
        if merged[key]:
            lines += ["", f"### {title}", ""]
            for f in merged[key]:
                sev = f.get("severity", "FLAKY")
                until = f" (until {f.get('expires')}: {f.get('reason')})" if key == "waived" else ""
                lines.append(f"- **{f['target']}** {sev} `{f.get('check')}`{until}: {_cell(f.get('summary', ''))}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= 200 else text[:199] + "…"


def merge(directories: list[Path], output: Path, *, flaky_fails: bool = False,
          html: Path | None = None, allure: list[str] | None = None) -> tuple[dict[str, Any], int, list[str]]:
    """Merge the runs in ``directories`` into ``output``; returns the combined verdict, the exit code and the
    lines to print."""
    runs = [read_run(d) for d in directories]
    merged = combined(runs)
    code = exit_code(runs, flaky_fails)
    merged["exit_code"] = code
    output.mkdir(parents=True, exist_ok=True)
    tmp = output / f".{report.VERDICT}.tmp"
    tmp.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, output / report.VERDICT)
    results = merge_results(runs, output / report.RESULTS)
    text = summary(merged)
    (output / SUMMARY).write_text(text, encoding="utf-8")
    lines = [f"  {t['target']}: {t['severity']}" + (f" ({t['source']}: no verdict.json, the run did not finish)"
                                                   if t["severity"] == NO_VERDICT else "")
             for t in merged["targets"]]
    lines.append(f"merged {len(runs)} runs into {output / report.VERDICT}, {results} Allure results in "
                 f"{output / report.RESULTS}, job summary {output / SUMMARY}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(text)
    if html is not None and allure is not None:
        try:
            report.render(output / report.RESULTS, html, title=f"SceneScout deploy gate: {merged['severity']}",
                          allure=allure)
            lines.append(f"report: {html}")
        except report.ReportError as exc:  # the evidence is in the results dir; the verdict stands
            lines.append(f"report: not rendered ({exc}); the merged results are in {output / report.RESULTS}")
    lines.append(combined_line(merged))
    return merged, code, lines
