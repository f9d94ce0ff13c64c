"""The skip gate of the suite's own tests (tests/skip_gate.py), run in a scratch project with pytester: a skip
nobody declared fails the run, a declared one does not, also when xdist workers run the tests."""

from pathlib import Path

import pytest

from tests.forkserver import runpytest_forked

ROOT = Path(__file__).resolve().parents[2]

UNDECLARED = """
import pytest

@pytest.fixture
def tool():
    pytest.skip("the tool is not installed")

def test_runs():
    pass

def test_skips_in_its_body():
    pytest.skip("openssl is not installed")

@pytest.mark.skipif(True, reason="only root can do this")
def test_skipped_by_a_marker():
    pass

def test_skipped_by_its_fixture(tool):
    pass
"""

DECLARED = """
import pytest

def test_runs():
    pass

@pytest.mark.expected_skip(reason="only a non-root run can get here; make test runs as root")
@pytest.mark.skipif(True, reason="only root can do this")
def test_skipped_by_a_marker():
    pass

@pytest.mark.expected_skip(reason="the body decides")
def test_skips_in_its_body():
    pytest.skip("not today")
"""


@pytest.fixture
def gated(pytester, monkeypatch):
    """A scratch project whose conftest registers the gate as tests/conftest.py does."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # `tests.skip_gate`, in the subprocess and its xdist workers
    pytester.makeconftest('pytest_plugins = ("tests.skip_gate",)')
    return pytester


def run(pytester, *args):
    return runpytest_forked(pytester, "-p", "no:cacheprovider", "-rs", *args)


def undeclared_skips_fail_the_run(result):
    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*= unexpected skips: 3 =*",
        "a skip fails the run unless its test declares it with @pytest.mark.expected_skip(reason=...)*",
    ])
    lines = set(result.stdout.lines)
    for line in ("SKIPPED test_undeclared.py::test_skips_in_its_body: openssl is not installed",
                 "SKIPPED test_undeclared.py::test_skipped_by_a_marker: only root can do this",
                 "SKIPPED test_undeclared.py::test_skipped_by_its_fixture: the tool is not installed"):
        assert line in lines, result.stdout.str()


def declared_skips_keep_the_run_green(result):
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    assert "unexpected skips" not in result.stdout.str()
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_declared.py:*: only root can do this"])  # -rs still says why


def test_a_skip_nobody_declared_fails_the_run_and_is_listed_with_its_reason(gated):
    gated.makepyfile(test_undeclared=UNDECLARED)
    undeclared_skips_fail_the_run(run(gated))


def test_a_declared_skip_does_not_fail_the_run(gated):
    gated.makepyfile(test_declared=DECLARED)
    declared_skips_keep_the_run_green(run(gated))


@pytest.mark.slow  # starts xdist workers
def test_the_gate_counts_the_workers_skips_under_xdist(gated):
    gated.makepyfile(test_undeclared=UNDECLARED)
    undeclared_skips_fail_the_run(run(gated, "-n", "2", "--dist", "loadgroup"))
    (gated.path / "test_undeclared.py").unlink()
    gated.makepyfile(test_declared=DECLARED)
    declared_skips_keep_the_run_green(run(gated, "-n", "2", "--dist", "loadgroup"))


def test_a_skipped_module_fails_the_run(gated):
    gated.makepyfile(test_module="""
import pytest
pytest.importorskip("no_such_module_anywhere")
def test_never_collected():
    pass
""", test_other="def test_runs():\n    pass\n")
    result = run(gated)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_module.py: could not import 'no_such_module_anywhere'*"])


def test_a_failure_keeps_its_exit_status(gated):
    gated.makepyfile(test_failing=UNDECLARED + "\ndef test_fails():\n    assert False\n")
    assert run(gated).ret == pytest.ExitCode.TESTS_FAILED


def test_an_expected_skip_without_a_reason_is_a_usage_error(gated):
    gated.makepyfile(test_bare="""
import pytest
@pytest.mark.expected_skip
def test_bare():
    pytest.skip("why not")
""")
    result = run(gated)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ['ERROR: test_bare.py::test_bare: @pytest.mark.expected_skip takes one argument, reason="*"'])
