"""The suite's own xdist groups (tests/xdist_groups.py), run in a scratch project with pytester and real xdist
workers: under ``--dist loadgroup`` the tests of one ``xdist_group`` land on one worker."""

import json
from pathlib import Path

import pytest

from tests.forkserver import runpytest_forked

ROOT = Path(__file__).resolve().parents[2]

# each test writes down the worker it ran on; four tests in group "stack", four in "prod", four in none
MODULE = """
import json
import os
from pathlib import Path

import pytest

def seen(name):
    Path(os.environ["SEEN_DIR"], name).write_text(json.dumps(os.environ["PYTEST_XDIST_WORKER"]))

{tests}
"""


def _module(group):
    mark = f'@pytest.mark.xdist_group("{group}")\n' if group else ""
    tests = "\n".join(f"{mark}def test_{group or 'free'}_{i}():\n    seen('{group or 'free'}_{i}')\n"
                      for i in range(4))
    return MODULE.format(tests=tests)


@pytest.fixture
def project(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # `tests.xdist_groups`, in the subprocess and its xdist workers
    seen = tmp_path / "seen"
    seen.mkdir()
    monkeypatch.setenv("SEEN_DIR", str(seen))
    pytester.makepyfile(test_a=_module("stack"), test_b=_module(None), test_c=_module("prod"))
    return pytester, seen


def workers(seen: Path, prefix: str) -> set[str]:
    ran = {p.name: json.loads(p.read_text()) for p in seen.iterdir() if p.name.startswith(prefix)}
    assert len(ran) == 4, ran
    return set(ran.values())


@pytest.mark.slow  # starts xdist workers
def test_the_tests_of_one_group_run_on_one_worker(project):
    pytester, seen = project
    pytester.makeconftest('pytest_plugins = ("tests.xdist_groups",)')
    result = runpytest_forked(pytester, "-p", "no:cacheprovider", "-v", "-n", "3", "--dist", "loadgroup")
    result.assert_outcomes(passed=12)
    assert len(workers(seen, "stack_")) == 1, result.stdout.str()
    assert len(workers(seen, "prod_")) == 1, result.stdout.str()
    for line in ("*PASSED test_a.py::test_stack_0@stack*", "*PASSED test_c.py::test_prod_3@prod*"):  # either first
        result.stdout.fnmatch_lines([line])


@pytest.mark.slow  # starts xdist workers
def test_without_the_hook_xdist_loses_the_group(project):
    """Why the hook exists: with pytest 9 and xdist 3.8 alone the group never reaches the scheduler's node ids.
    If this starts failing, xdist (or pytest) fixed it and tests/xdist_groups.py can go."""
    pytester, _ = project
    pytester.makeconftest("")
    result = runpytest_forked(pytester, "-p", "no:cacheprovider", "-v", "-n", "3", "--dist", "loadgroup")
    result.assert_outcomes(passed=12)
    assert "@stack" not in result.stdout.str() and "@prod" not in result.stdout.str()
