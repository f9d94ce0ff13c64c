"""``-n N`` asks the target no more than one process does (issue 15): counted at a stand-in server, not from the
suite's own figure; verdict.json's footprint says the same."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.demo_support import _state_dir, run_suite
from tests.servers import Reply
from tests.unit.test_http_realworld import write_targets

PAGE = (b"<!doctype html><html><head><title>SceneScout</title></head><body><nav><a href='/discover'>Discover</a>"
        b"</nav><main><article class='event-card'><h2>Jazz night</h2></article></main></body></html>")
HEALTH = Reply(200, b'{"status": "ok"}')


@pytest.fixture
def rundir() -> Iterator[Path]:
    path = _state_dir("xdist")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def requests_of(site, rundir: Path, *args: str) -> tuple[int, dict[str, int], str]:
    """The requests one run made at the server, the run's own footprint, its output."""
    site.requests.clear()
    targets = write_targets(rundir, site.url, routes=["/", "/discover"])
    run = run_suite("--target", "t", *args, targets=targets, workdir=rundir, timeout=120)
    assert run.verdict.get("severity") in ("OK", "NOT CHECKED"), run.output  # no database here: blind, no finding
    assert not run.findings(), run.output
    return len(site.requests), run.verdict["footprint"], run.output


@pytest.mark.slow  # starts xdist workers
def test_two_workers_ask_the_target_no_more_than_one_process(stand_in_site, rundir):
    site = stand_in_site({"/health": HEALTH, "/api/health": HEALTH}, default=Reply(200, PAGE, "text/html"))
    single, footprint, output = requests_of(site, rundir, "-n", "0")
    assert single == footprint["http_requests"] == 3, output  # /, /health, /api/health: once each
    workers, footprint, output = requests_of(site, rundir, "-n", "2")
    assert workers <= single, f"{workers} requests with -n 2, {single} with one process:\n{output}"
    assert footprint["http_requests"] == workers, output


@pytest.mark.slow  # starts xdist workers and Chromium
def test_two_workers_load_each_page_no_more_often_than_one_process(stand_in_site, rundir):
    """The browser checks of a route share one page load; under -n 2 they stay on one worker (one Chromium)."""
    site = stand_in_site({"/health": HEALTH, "/api/health": HEALTH}, default=Reply(200, PAGE, "text/html"))
    browser = ("-m", "comprehensive", "-k", "test_page_renders_events or test_no_console or test_no_broken_images")
    single, _, output = requests_of(site, rundir, "-n", "0", *browser)
    assert single >= 2, output  # each route loaded once
    workers, _, output = requests_of(site, rundir, "-n", "2", *browser)
    assert workers <= single, f"{workers} requests with -n 2, {single} with one process:\n{output}"
