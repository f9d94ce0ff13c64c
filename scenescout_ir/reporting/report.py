"""Runs kept for the post-mortem, and the shareable HTML report made from them with Allure Report 3.

Everything a run leaves goes next to its verdict file (``reports/`` by default)::

    reports/verdict.json              the last run's verdict (plugin.py)
    reports/allure-results            a link to the newest kept run's Allure results
    reports/runs/.running-<...>/      a run's own Allure results while it runs (two runs never share one)
    reports/runs/<run id>/            every run, kept: verdict.json and allure-results/ (moved there at its end)
    reports/runs/<run id>/report.html its report: one self-contained HTML file (``make report``)
    reports/report.html               a copy of the newest run's report, the file to attach
    reports/history.jsonl             Allure's history: the trends across runs

A run id is its start time and verdict, ``20251126T205604Z-SEV2``, so the names sort by time. Runs are
rendered oldest first, each adding its point to the history, so the trend shows every run, not only those
a person happened to render. The newest ``SCENESCOUT_KEEP_RUNS`` (default 30) runs are kept, and every
run an incident log links to.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scenescout_ir.judge.verdict import Verdict, read

RUNS = "runs"
RESULTS = "allure-results"
RUNNING = ".running-"  # runs/.running-*: the results of a run still going (or killed outright)
STALE_RUNNING_S = 86400.0
VERDICT = "verdict.json"
REPORT = "report.html"
HISTORY = "history.jsonl"
KEEP_RUNS_ENV = "SCENESCOUT_KEEP_RUNS"
ALLURE_ENV = "SCENESCOUT_ALLURE"  # another `allure` (3.x) executable than node_modules/.bin/allure
DEFAULT_KEEP = 30
HISTORY_LIMIT = 100
RENDER_TIMEOUT_S = 120.0

_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-(?:NOT-CHECKED|[A-Z0-9]+)(?:-\d+)?$")


class ReportError(Exception):
    """A one-line problem making a report (tool missing, results missing, the tool failed)."""


# --- keeping runs ------------------------------------------------------------------------------------


def run_id(verdict: Verdict) -> str:
    started = datetime.fromisoformat(verdict.started_at)
    label = verdict.label.replace(" ", "-")  # NOT CHECKED -> NOT-CHECKED
    return f"{started:%Y%m%dT%H%M%SZ}-{label}"


def archive_run(reports_dir: Path, verdict: Verdict, results_dir: Path | None) -> Path:
    """Keep this run: its verdict and Allure results under ``runs/<run id>/`` (hard links where possible)."""
    runs = reports_dir / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    base = run_id(verdict)
    for n in range(1, 1000):
        run_dir = runs / (base if n == 1 else f"{base}-{n}")
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise ReportError(f"too many runs named {base} in {runs}")
    if results_dir is not None and results_dir.is_dir():
        if results_dir.parent.name.startswith(RUNNING) and results_dir.parent.parent == runs:
            os.rename(results_dir, run_dir / RESULTS)  # this run's own results, and only them
            shutil.rmtree(results_dir.parent, ignore_errors=True)
        else:  # an --alluredir of the user's: linked, left where it is
            shutil.copytree(results_dir, run_dir / RESULTS, copy_function=_link_or_copy)
    tmp = run_dir / f".{VERDICT}.tmp"
    tmp.write_text(json.dumps(verdict.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / VERDICT)
    return run_dir


def running_dir(reports_dir: Path) -> Path:
    """Where a run writes its Allure results while it runs: its own dir, so two runs sharing reports/ never
    mix evidence. ``runs/.running-<start>-<pid>-<random>/``; :func:`archive_run` moves them to the run's id."""
    started = datetime.now(UTC)
    return reports_dir / RUNS / f"{RUNNING}{started:%Y%m%dT%H%M%SZ}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def link_latest(reports_dir: Path, run_dir: Path) -> None:
    """``reports/allure-results`` -> the newest kept run's results (a relative symlink, replaced atomically)."""
    if not (run_dir / RESULTS).is_dir():
        return
    link = reports_dir / RESULTS
    tmp = reports_dir / f".{RESULTS}-{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path(RUNS) / run_dir.name / RESULTS, target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError:  # a real directory, left by an older version of the suite
        shutil.rmtree(link, ignore_errors=True)
        os.replace(tmp, link)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def runs(reports_dir: Path) -> list[Path]:
    """The kept runs, oldest first."""
    directory = reports_dir / RUNS
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and _RUN_ID.match(p.name))


def prune_runs(reports_dir: Path, keep: int, protected: Iterable[str] = ()) -> list[Path]:
    """Remove all but the newest ``keep`` runs, except those named in ``protected`` (linked from incidents)."""
    keep_names = set(protected)
    kept = runs(reports_dir)
    removed = []
    for run_dir in kept[: max(0, len(kept) - keep)]:
        if run_dir.name not in keep_names:
            shutil.rmtree(run_dir, ignore_errors=True)
            removed.append(run_dir)
    stale = time.time() - STALE_RUNNING_S  # results of runs killed outright (SIGKILL), a day later
    for running in (reports_dir / RUNS).glob(f"{RUNNING}*"):
        with contextlib.suppress(OSError):
            if running.stat().st_mtime < stale:
                shutil.rmtree(running, ignore_errors=True)
    return removed


def keep_runs() -> int:
    raw = os.environ.get(KEEP_RUNS_ENV, "").strip()
    try:
        return max(1, int(raw)) if raw else DEFAULT_KEEP
    except ValueError:
        return DEFAULT_KEEP


def linked_runs(incident_logs: Iterable[Path]) -> set[str]:
    """Run ids that incident logs link to (their reports must outlive pruning)."""
    names: set[str] = set()
    for path in incident_logs:
        with contextlib.suppress(OSError):
            names.update(re.findall(r"/(\d{8}T\d{6}Z-[A-Z0-9]+(?:-\d+)?)/", path.read_text(errors="replace")))
    return names


# --- rendering ---------------------------------------------------------------------------------------


def allure_command(root: Path) -> list[str]:
    """The Allure Report 3 command line: ``$SCENESCOUT_ALLURE``, else the project's node_modules/.bin/allure."""
    configured = os.environ.get(ALLURE_ENV, "").strip()
    tool = Path(configured) if configured else root / "node_modules" / ".bin" / "allure"
    if not tool.exists():
        raise ReportError(
            f"the Allure report tool is not installed ({tool} not found): run `make report`, which installs it "
            "with npm ci"
        )
    return [str(tool)]


def render(results: Path, output: Path, *, title: str, allure: list[str], history: Path | None = None,
           timeout: float = RENDER_TIMEOUT_S) -> Path:
    """One self-contained HTML file from an Allure results dir (Allure 3, awesome plugin, single-file mode).

    categories.json in the results is handed to Allure 3 through its config: its report takes categories
    from there, not from the results dir.
    """
    if not results.is_dir():
        raise ReportError(f"no Allure results at {results}: run the checks first (pytest -m emergency)")
    results = results.resolve()  # reports/allure-results is a link to the newest run's: allure does not follow it
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".render-", dir=output.parent))
    try:
        config: dict[str, Any] = {
            "name": title,
            "output": str(work / "out"),
            "plugins": {"awesome": {"options": {
                "singleFile": True, "reportName": title, "reportLanguage": "en",
                "groupBy": ["epic", "feature", "story"],
            }}},
        }
        categories = _categories(results)
        if categories:
            config["categories"] = categories
        if history is not None:
            config["historyPath"] = str(history)
            config["historyLimit"] = HISTORY_LIMIT
        (work / "allurerc.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        try:
            proc = subprocess.run(
                [*allure, "generate", "--config", str(work / "allurerc.json"), str(results)],
                cwd=work, capture_output=True, text=True, timeout=timeout,
                env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
            )
        except subprocess.TimeoutExpired:
            raise ReportError(f"allure generate did not finish within {timeout:g} s") from None
        except OSError as exc:
            raise ReportError(f"cannot run {allure[0]}: {exc.strerror}") from None
        made = work / "out" / "index.html"
        if proc.returncode != 0 or not made.is_file():
            said = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            raise ReportError(f"allure generate failed (exit {proc.returncode}): {said[-1] if said else 'no output'}")
        with contextlib.suppress(UnicodeDecodeError):  # not the page it was made for: left as Allure wrote it
            made.write_text(data_store_first(made.read_text(encoding="utf-8")), encoding="utf-8")
        os.replace(made, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


# Allure 3.18's single-file report defines its embedded data store (window.allureReportData) in a script
# *after* the app's. The app reads the data from there only if the store exists when it asks, else it
# fetches the file from beside the page: from file:// that is refused, and the tree of results stays empty.
# Its first render asks for widgets/tree-filters.json, which the browser may do before it has parsed the
# data scripts (a loaded machine, a large report): at least 3 of 54 loads of a 4 MB report in Chromium here
# showed an empty report, and 0 of 40 with the store declared first.
# Declaring the store before the app makes every read wait for the data (the app polls
# allureReportDataReady, which the data script sets when all is in).
_APP_SCRIPT = re.compile(r'<script\s+src="data:text/javascript;base64,')
_STORE_DECLARED = "window.allureReportData = window.allureReportData || {};"
_STORE_FIRST = ("<script>window.allureReportDataReady = false; window.allureReportData = window.allureReportData "
                "|| {};</script>\n    ")


def data_store_first(html: str) -> str:
    """The single-file report with its data store declared before the app script (unchanged if not that shape)."""
    app = _APP_SCRIPT.search(html)
    if app is None or _STORE_DECLARED not in html[app.end():] or _STORE_FIRST in html:
        return html
    return html[:app.start()] + _STORE_FIRST + html[app.start():]


def _categories(results: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads((results / "categories.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def title_of(verdict: Verdict) -> str:
    started = verdict.started_at[:16].replace("T", " ")
    return f"SceneScout {verdict.target} {started} UTC: {verdict.short_headline}"


def read_verdict(run_dir: Path) -> Verdict | None:
    """The run's kept verdict, or None when it has none (or what is there is not a verdict)."""
    return read(run_dir / VERDICT)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".report.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def render_run(run_dir: Path, *, allure: list[str]) -> Path:
    """``runs/<id>/report.html``, its point added to the reports dir's history."""
    reports_dir = run_dir.parent.parent
    verdict = read_verdict(run_dir)
    title = title_of(verdict) if verdict else f"SceneScout: {run_dir.name}"
    return render(run_dir / RESULTS, run_dir / REPORT, title=title, allure=allure,
                  history=reports_dir / HISTORY)


def render_pending(reports_dir: Path, *, allure: list[str], only: Iterable[Path] | None = None) -> list[Path]:
    """Render every kept run that has results but no report yet, oldest first; refresh reports/report.html."""
    wanted = {p.resolve() for p in only} if only is not None else None
    rendered: list[Path] = []
    with _locked(reports_dir):
        for run_dir in runs(reports_dir):
            if wanted is not None and run_dir.resolve() not in wanted:
                continue
            if (run_dir / RESULTS).is_dir() and not (run_dir / REPORT).exists():
                rendered.append(render_run(run_dir, allure=allure))
        newest = [r for r in runs(reports_dir) if (r / REPORT).is_file()]
        if newest:
            latest = reports_dir / REPORT
            tmp = latest.with_suffix(".html.tmp")
            shutil.copyfile(newest[-1] / REPORT, tmp)
            os.replace(tmp, latest)
    return rendered
