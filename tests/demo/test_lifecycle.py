"""A run's life cycle against the demo stack: every list of targets.toml may be empty, a run within its
time budget, two runs sharing reports/ (issue 8, items 9, 10 and 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.demo_support import run_suite, targets_file

pytestmark = pytest.mark.timeout(300)

EVERYTHING = "emergency or comprehensive or performance"

# every list key of targets.toml (config.py: Target's tuples, the sources table, Integrity.duplicate_key,
# Browser.geolocation), and the words its emptiness is reported with when a check has nothing to look at
EMPTY_LISTS = {
    "health_endpoints": "no health_endpoints configured in targets.toml",
    "routes": "no routes configured in targets.toml",
    "logs": "no logs configured in targets.toml",
    "sources": "no sources configured in targets.toml",
    "secret_env": None,
    "backend_origins": None,
    "app_processes": "no app_processes configured",
    "integrity.duplicate_key": "no integrity.duplicate_key configured in targets.toml",
    "browser.geolocation": None,
}


# Lists emptied together in one run, grouped so that the checks reading one of them still have the lists they
# need besides it (the browser checks meet no backend_origins with their routes there; the ingestion checks no
# logs with their sources there). A check whose every input is empty is "not applicable" either way.
EMPTY_TOGETHER = (
    ("health_endpoints", "logs", "integrity.duplicate_key", "browser.geolocation", "backend_origins", "secret_env"),
    ("routes", "sources", "app_processes"),
)


def test_the_groups_name_every_list_once():
    assert sorted(k for group in EMPTY_TOGETHER for k in group) == sorted(EMPTY_LISTS)


def empty_list_targets(workdir: Path, stack, keys: tuple[str, ...]) -> Path:
    sections: dict[str, dict] = {"performance": {"samples": 2},
                                 "integrity": {"baseline_file": str(workdir / f"baseline-empty-{keys[0]}.json")}}
    top = {}
    for key in keys:
        section, _, name = key.rpartition(".")
        if section:
            sections.setdefault(section, {})[name] = []
        elif key not in ("sources", "logs"):
            top[key] = []
    path = targets_file(workdir, stack.info().state_dir, keys=top, sections=sections)
    if "sources" in keys:  # an empty [targets.demo.sources] table: drop the four demo sources
        text = "\n".join(line for line in path.read_text().splitlines()
                         if not re.match(r"^(ticketmaster|eventbrite|songkick|meetup) = ", line))
        path.write_text(text + "\n")
    if "logs" in keys:
        path.write_text(path.read_text().replace('logs = ["logs/application.log", "logs/ingestion.log"]\n',
                                                 "logs = []\n"))
    return path


@pytest.mark.parametrize("keys", EMPTY_TOGETHER, ids="+".join)
def test_every_list_of_targets_toml_may_be_empty(healthy_stack, workdir, keys):
    targets = empty_list_targets(workdir, healthy_stack, keys)
    # test_slow_statements reads pg_stat_statements, cumulative over the session's stack: the faults of other
    # tests (a blocking lock) stay in its means; it reads no list of targets.toml
    run = run_suite("-m", EVERYTHING, "--deselect", "checks/test_performance.py::test_slow_statements",
                    targets=targets, workdir=workdir)
    assert "got empty parameter set" not in run.output
    assert "Traceback" not in run.output and "IndexError" not in run.output
    assert run.verdict["broken"] == [], run.verdict["broken"]
    assert run.severity == "OK", run.output[-3000:]
    assert run.exit_code == 0, run.output[-3000:]
    reasons = [c["reason"] for c in run.verdict["not_applicable"]]
    for key in keys:
        if EMPTY_LISTS[key]:
            assert any(EMPTY_LISTS[key] in r for r in reasons), (key, reasons)


def test_a_slow_site_gets_a_verdict_within_the_runs_budget(healthy_stack, workdir):
    """The issue's run: every answer takes 2.5 s and `-m "emergency or comprehensive or performance"` did not
    end in 120 s (10 samples x 7 endpoints x 2.5 s). Sampling now stops once the verdict is settled, and the
    run stops starting checks when its budget (20 s here, 60 s by default) is spent: a verdict, cut short."""
    import time

    healthy_stack.inject("slow_responses", seconds=2.5)
    targets = targets_file(workdir, healthy_stack.info().state_dir, sections={
        "budget": {"comprehensive_s": 20},
        "integrity": {"baseline_file": str(workdir / "baseline-budget.json")},
    })
    began = time.monotonic()
    run = run_suite("-m", EVERYTHING, targets=targets, workdir=workdir, timeout=120)
    took = time.monotonic() - began
    assert took < 60, f"the run took {took:.0f} s"  # 20 s budget plus the checks running when it ran out
    assert run.severity in ("SEV2", "SEV3"), run.output[-3000:]
    cut = [c for c in run.verdict["could_not_run"] if c["reason"].startswith("run budget of 20 s spent")]
    assert cut, run.output[-3000:]
    assert "cut short: the run's time budget was spent)" in run.output
    sampled = [e for f in run.findings() for e in f["evidence"] if e["title"].startswith("response times of")]
    for evidence in sampled:  # each endpoint's samples say how many and why they stopped
        assert evidence["data"]["taken"] < evidence["data"]["planned"] and evidence["data"]["stopped"]
