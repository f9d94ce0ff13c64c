"""Drills: a fault injected and kept secret, the engineer's verdict compared with it, the stack healed."""

import random

from fixtures.demo import drills
from fixtures.demo.faults import FAULTS
from tests.demo_support import run_suite


def test_every_fault_is_a_drill_with_an_expected_verdict():
    assert set(drills.EXPECTED) == set(FAULTS)
    assert {e.marker for e in drills.EXPECTED.values()} <= {"emergency", "comprehensive", "performance"}


def test_a_drill_is_found_by_a_verdict_that_names_its_fault(healthy_stack, demo_targets, workdir):
    state_dir = healthy_stack.state_dir
    verdict = workdir / "verdict.json"
    verdict.unlink(missing_ok=True)
    assert drills.start(healthy_stack, "api_5xx") == "api_5xx"
    assert drills.check(state_dir, verdict) == (
        False, f"no verdict yet ({verdict} missing): run the suite, e.g. pytest -m emergency")
    run = run_suite(targets=demo_targets, workdir=workdir)
    found, text = drills.check(state_dir, verdict)
    assert found, (text, run.output)
    assert text.startswith("FOUND in ") and "the fault was api_5xx" in text
    drills.heal(healthy_stack)
    assert healthy_stack.status()["faults"] == {}
    assert drills.check(state_dir, verdict) == (False, "no drill is running: start one with `make drill`")


def test_a_verdict_that_misses_the_fault_says_where_it_shows_without_giving_it_away_first(
    healthy_stack, demo_targets, workdir
):
    chosen = drills.start(healthy_stack, None, rng=random.Random(7))
    assert chosen in FAULTS and healthy_stack.status()["faults"]
    later = '{"severity": "OK", "findings": [], "finished_at": "2099-01-01T00:00:00+00:00"}'
    (workdir / "verdict.json").write_text(later)
    found, text = drills.check(healthy_stack.state_dir, workdir / "verdict.json")
    assert not found and text.startswith("NOT YET") and f"pytest -m {drills.EXPECTED[chosen].marker}" in text
    drills.heal(healthy_stack)
