"""The demo stack for the suite's own tests, and a way to run the checks against it as a user would.

One stack per test session, in a throw-away state dir under .tmp/; every test that injects a fault
clears it again, so the next one starts from a healthy stack.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.forkserver import SPAWN_ENV, forks

ROOT = Path(__file__).resolve().parents[1]
TMP = ROOT / ".tmp"

# Thresholds low enough that a fault shows within a second or two, and host limits high enough that a
# busy CI machine does not raise a false alarm (the host checks have their own tests).
TEST_THRESHOLDS = {
    "stuck_transaction_s": 1,
    "blocking_wait_s": 1,
    "load_per_core": 1000,
    "disk_used_pct": 99.9,
    "memory_used_pct": 99.9,
}


@dataclass(frozen=True)
class SuiteRun:
    exit_code: int
    output: str
    verdict: dict[str, Any]
    ran: dict[str, str]  # check name -> passed | failed | skipped, every check the run collected (its JUnit XML)

    @property
    def severity(self) -> str:
        return str(self.verdict.get("severity"))

    def findings(self, check: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.verdict.get("findings", []) if check is None or f["check"].startswith(check)]

    def outcome_of(self, check: str) -> str:
        """The check's outcome in this run: passed, failed, could_not_run, not_applicable or broken. A check the
        run did not collect has none: asking for it fails the test (it would prove nothing)."""
        assert check in self.ran, f"{check} was not collected (ran: {', '.join(sorted(self.ran))})\n{self.output}"
        if any(f["check"] == check for f in self.findings()):
            return "failed"
        for outcome in ("could_not_run", "not_applicable", "broken"):
            if any(c["check"] == check for c in self.verdict.get(outcome, [])):
                return outcome
        assert self.ran[check] == "passed", f"{check}: {self.ran[check]} in JUnit, in no list of the verdict"
        return "passed"


def targets_file(
    directory: Path, stack_dir: Path, *, keys: dict[str, Any] | None = None,
    sections: dict[str, dict[str, Any]] | None = None, sources: dict[str, dict[str, Any]] | None = None,
    **thresholds: Any,
) -> Path:
    """A targets.toml whose demo target points at ``stack_dir``; ``keys`` are more target keys (e.g.
    ``routes=["/"]``), ``sections`` more tables (e.g. ``{"performance": {"samples": 3}}``), ``sources`` more
    keys of a source (e.g. ``{"ticketmaster": {"api_key_env": "TM_KEY"}}``)."""
    limits = {**TEST_THRESHOLDS, **thresholds}
    lines = [
        "[targets.demo]",
        f'stack = "{stack_dir}"',
        'logs = ["logs/application.log", "logs/ingestion.log"]',
        *(f"{k} = {json.dumps(v)}" for k, v in (keys or {}).items()),  # JSON strings, numbers, lists are TOML
        "[targets.demo.sources]",
        *(f"{s} = {_inline({'max_age': '10m', **(sources or {}).get(s, {})})}"
          for s in ("ticketmaster", "eventbrite", "songkick", "meetup")),
        "[targets.demo.thresholds]",
        *(f"{k} = {v}" for k, v in limits.items()),
    ]
    for name, table in (sections or {}).items():
        lines += [f"[targets.demo.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    content = "\n".join(lines) + "\n"
    path = directory / f"targets-{abs(hash(content))}.toml"
    path.write_text(content)
    return path


def _inline(table: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def run_suite(*args: str, targets: Path, workdir: Path, env: dict[str, str] | None = None,
              timeout: float = 120) -> SuiteRun:
    """``pytest -m emergency`` in a subprocess, exactly as the on-call engineer runs it."""
    verdict_file = workdir / "verdict.json"
    verdict_file.unlink(missing_ok=True)
    given = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--junitxml"]  # a test reading it itself
    junit = Path(given[-1]) if given else workdir / "junit.xml"
    junit.unlink(missing_ok=True)
    # the plugin's options in their --name=value form: pytest finds its rootdir and pyproject.toml before the
    # plugin is loaded, so a separate value outside the checkout (a tmp_path) would be taken for a path to test
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--targets-file={targets}",
           f"--verdict-file={verdict_file}", *(() if given else (f"--junitxml={junit}",)), *args]
    if not any(a.startswith("-m") for a in args) and "-m" not in args:
        cmd[3:3] = ["-m", "emergency"]
    # what a run writes beyond the verdict stays in the test's workdir: no incident log or webhook of the
    # person running the tests is touched unless the test names its own
    isolated = {"SCENESCOUT_INCIDENTS_DIR": str(workdir / "incidents"), "SCENESCOUT_SLACK_WEBHOOK": ""}
    run_env = {**os.environ, **isolated, **(env or {})}
    if run_env.get(SPAWN_ENV) == "1":
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=run_env)
    else:  # the same run, forked from a process that imported pytest and the plugins once (tests/forkserver.py)
        proc = forks().run(cmd[3:], cwd=ROOT, env=run_env, timeout=timeout, out_dir=workdir)
    verdict = json.loads(verdict_file.read_text()) if verdict_file.exists() else {}
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, verdict, junit_outcomes(junit))


def junit_outcomes(path: Path) -> dict[str, str]:
    """test name -> passed | failed | skipped, from a run's JUnit XML (none written: no test ran)."""
    if not path.exists():
        return {}
    outcomes = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcomes[case.get("name", "")] = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        )
    return outcomes


def _state_dir(name: str) -> Path:
    TMP.mkdir(exist_ok=True)
    TMP.chmod(0o755)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=TMP))
    path.chmod(0o755)
    return path


def _running_stack(name: str, flavour: str = "default") -> Iterator[Any]:
    """A demo stack of ``flavour`` in a throw-away state dir, started for the session and stopped after it."""
    from fixtures.demo import DemoStack

    stack = DemoStack(_state_dir(name), flavour=flavour)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def demo_stack() -> Iterator[Any]:
    yield from _running_stack("stack")


@pytest.fixture
def healthy_stack(demo_stack: Any) -> Iterator[Any]:
    """The session's stack, returned to healthy after the test whatever it injected."""
    yield demo_stack
    demo_stack.clear()


@pytest.fixture(scope="session")
def workdir() -> Path:
    return _state_dir("runs")


@pytest.fixture(scope="session")
def demo_targets(demo_stack: Any, workdir: Path) -> Path:
    return targets_file(workdir, demo_stack.info().state_dir)


def wait_for(condition: Any, what: str, timeout: float = 15.0, every: float = 0.1) -> None:
    """Poll ``condition`` until it holds (a bounded wait on a condition, never a blind sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


# --- the demo stack's "prod" flavour (fixtures/demo/flavours.py) --------------------------------------


@pytest.fixture(scope="session")
def prod_stack() -> Iterator[Any]:
    """The prod flavour: a static front end, a data API on another origin, pino logs, other table names."""
    yield from _running_stack("prod-stack", flavour="prod")


@pytest.fixture
def healthy_prod_stack(prod_stack: Any) -> Iterator[Any]:
    """The session's prod-flavour stack, returned to healthy after the test whatever it injected."""
    yield prod_stack
    prod_stack.clear()


def prod_targets_file(directory: Path, stack: Any, *, sections: dict[str, dict[str, Any]] | None = None,
                      keys: dict[str, Any] | None = None, **thresholds: Any) -> Path:
    """The targets.toml of the prod-flavour stack (target ``prod``): its names set through targets.toml keys only
    (fixtures/demo/prod_targets.py), with the test thresholds; run it with ``--target prod``."""
    from fixtures.demo.prod_targets import prod_targets

    info = stack.info()
    content = prod_targets(info.state_dir, info.api_url, thresholds={**TEST_THRESHOLDS, **thresholds},
                           sections=sections, keys=keys)
    path = directory / f"prod-targets-{abs(hash(content))}.toml"
    path.write_text(content)
    return path


# --- the detection matrix: every fault of the demo stack, proven by the tests that inject it ------------------

MATRIX_FILE = ROOT / "docs" / "detection-matrix.md"
# per session: one JSON file per proven fault; xdist workers write, the controller reads
DETECTIONS_DIR = TMP / "detections"
_detections: list[Path] = []  # this session's directory (set in pytest_configure; a worker's comes from its controller)


def prove(fault: str, run: SuiteRun, flavour: str = "default", *, source: str | None = None) -> dict[str, Any]:
    """The run saw ``fault`` as fixtures/demo/drills.py EXPECTED says: its verdict, the finding that names it, and
    the probable cause first; the row goes to docs/detection-matrix.md."""
    from fixtures.demo.drills import EXPECTED, NOT_CHECKED, OK

    expected = EXPECTED[fault]
    if source:  # the fault injected for another source than the table's default one
        default = str(expected.params.get("source", "ticketmaster"))
        expected = replace(expected, check=expected.check.replace(default, source),
                           cause=expected.cause.replace(default, source))
    if expected.severity in (NOT_CHECKED, OK):
        row = _proven_without_finding(fault, expected, run, flavour)
    else:
        name = expected.check if flavour == expected.flavour else expected.check.split("[", 1)[0]  # its own ids
        found = [f for f in run.findings() if f["check"].startswith(name)]
        assert found, f"{fault}: no finding of {expected.check}:\n{run.output}"
        assert run.severity == expected.severity, f"{fault}: verdict {run.severity}, expected {expected.severity}"
        causes = run.verdict.get("probable_causes") or [{}]
        assert causes[0].get("component") == expected.cause, (
            f"{fault}: probable cause {causes[0].get('component')!r}, expected {expected.cause!r}:\n{run.output}")
        row = {"fault": fault, "flavour": flavour, "marker": expected.marker, "verdict": run.severity,
               "finding": f"{found[0]['check']}: {found[0]['summary']}", "cause": expected.cause,
               "seconds": float(run.verdict.get("duration_s", 0.0))}
    here = _detections[-1] if _detections else DETECTIONS_DIR / "unconfigured"
    here.mkdir(parents=True, exist_ok=True)
    (here / f"{os.getpid()}-{time.monotonic_ns()}.json").write_text(json.dumps(row))
    return row


def _proven_without_finding(fault: str, expected: Any, run: SuiteRun, flavour: str) -> dict[str, Any]:
    """A fault whose verdict is no finding: NOT_CHECKED (its component blind, exit 6) or OK with the provider's
    status page as context (never red by itself)."""
    from fixtures.demo.drills import NOT_CHECKED
    assert not run.findings(), f"{fault}: expected no finding:\n{run.output}"
    if expected.severity == NOT_CHECKED:
        blind = [b for b in run.verdict.get("blind", []) if b["component"] == expected.cause]
        assert blind and run.exit_code == 6, f"{fault}: {expected.cause} not NOT CHECKED (exit {run.exit_code}):\n" \
                                             f"{run.output}"
        assert f"VERDICT: NOT CHECKED - {expected.cause}" in run.output, run.output
        finding = f"{blind[0]['check']}: {blind[0]['reason']}"
    else:
        context = run.verdict.get("context") or []
        assert run.severity == "OK" and run.exit_code == 0 and context, f"{fault}: no context:\n{run.output}"
        finding = f"{expected.check}: context: {context[0]}"
    return {"fault": fault, "flavour": flavour, "marker": expected.marker, "verdict": expected.severity,
            "finding": finding, "cause": expected.cause, "seconds": float(run.verdict.get("duration_s", 0.0))}


def render_matrix(rows: list[dict[str, Any]]) -> str:
    from fixtures.demo.drills import EXPECTED
    from fixtures.demo.faults import FAULTS

    by_fault = {}
    for row in rows:
        by_fault.setdefault((row["fault"], row["flavour"]), row)
    default = [by_fault[(f, e.flavour)] for f, e in EXPECTED.items() if (f, e.flavour) in by_fault]
    out = [
        "# Detection matrix: every fault of the demo stack, and what the suite says about it",
        "",
        "Generated by `make test` (tests/demo_support.py `prove`): each row is a test that injected the fault into the "
        "demo stack, ran the suite as the on-call engineer does and required the verdict, the finding and the "
        "probable cause below (fixtures/demo/drills.py `EXPECTED`). A fault not detected at its severity fails "
        "`make test`; `make drill` uses the same table. Time to verdict is the run's own (first check to verdict), "
        "on the machine that ran the tests.",
        "",
        f"**{len(default)} of {len(FAULTS)} faults detected at their expected severity with the right probable cause"
        + (f"; {sum(1 for k in by_fault if k[1] == 'prod' and EXPECTED[k[0]].flavour != 'prod')} also on the prod "
           f"flavour**" if any(k[1] == "prod" for k in by_fault) else "**"),
        "",
        "| fault | flavour | run | verdict | probable cause | the finding that names it | time to verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in sorted(by_fault, key=lambda k: (list(EXPECTED).index(k[0]), k[1])):
        row = by_fault[key]
        finding = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", " ".join(row["finding"].split())).replace("|", "\\|")
        finding = finding if len(finding) <= 140 else finding[:139] + "…"
        out.append(f"| `{row['fault']}` | {row['flavour']} | `-m {row['marker']}` | {row['verdict']} | "
                   f"{row['cause']} | {finding} | {row['seconds']:.1f} s |")
    return "\n".join(out) + "\n"


def pytest_configure(config: pytest.Config) -> None:
    given = getattr(config, "workerinput", {}).get("scenescout_detections")
    _detections.append(Path(given) if given else DETECTIONS_DIR / f"{os.getpid()}-{time.time_ns()}")


def pytest_configure_node(node: Any) -> None:
    """xdist: the workers write their proofs where this session reads them."""
    node.workerinput["scenescout_detections"] = str(_detections[-1])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """docs/detection-matrix.md, rewritten when this session proved every fault (a whole `make test`)."""
    from fixtures.demo.drills import EXPECTED

    if hasattr(session.config, "workerinput") or not _detections:
        return
    here = _detections[-1]
    rows = [json.loads(p.read_text()) for p in sorted(here.glob("*.json"))] if here.is_dir() else []
    shutil.rmtree(here, ignore_errors=True)
    if {r["fault"] for r in rows if r["flavour"] == EXPECTED[r["fault"]].flavour} >= set(EXPECTED):
        MATRIX_FILE.write_text(render_matrix(rows))
