"""The plugin's own behaviour, run in a scratch project with pytester."""

import json

import pytest

from tests.forkserver import runpytest_forked

CONFTEST = ""  # the plugin comes from its pytest11 entry point
TARGETS = """
[targets.local]
base_url = "http://127.0.0.1:9"
dsn_env = "SCRATCH_DSN"
host_checks = false
[targets.local.sources]
a = { max_age = "1m" }
b = { max_age = "1m" }
"""
CHECKS = '''
import pytest
from scenescout_ir.core.outcomes import CouldNotRun, Finding

pytestmark = pytest.mark.emergency

@pytest.mark.condition("source_stale")
def test_fresh(source):
    assert source.name != "b", f"{source.name}: newest event is 99 min old"

@pytest.mark.condition("log_errors")
def test_cannot_look():
    raise CouldNotRun("log file x does not exist")

@pytest.mark.condition("slow_site")
def test_escalates():
    raise Finding("significant_degradation", "/ took 12.0 s")

@pytest.mark.condition("memory")
def test_broken():
    raise KeyError("a bug in the suite")

@pytest.mark.condition("memory")
def test_secret_in_message():
    assert False, "failed to connect to postgresql://oncall:hunter2-pw@db/x"

def test_unmarked_module_level_marker_makes_it_a_check():
    pass
'''


@pytest.fixture
def scratch(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".toml", targets=TARGETS)
    pytester.makepyfile(test_checks=CHECKS)
    return pytester


def verdict_of(pytester):
    return json.loads((pytester.path / "reports" / "verdict.json").read_text())


def test_outcomes_are_kept_apart_and_the_verdict_is_written(scratch):
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    verdict = verdict_of(scratch)
    assert verdict["severity"] == "SEV2"
    conditions = {f["check"]: f["condition"] for f in verdict["findings"]}
    assert conditions["test_fresh[b]"] == "Single API source failure"
    assert conditions["test_escalates"].startswith("Significant performance degradation")
    assert "test_broken" not in conditions and verdict["broken"][0]["reason"].startswith("KeyError")
    assert verdict["could_not_run"] == [{"check": "test_cannot_look", "reason": "log file x does not exist"}]
    assert verdict["counts"]["passed"] == 2 and verdict["counts"]["total"] == 7
    result.stdout.fnmatch_lines([
        "VERDICT: SEV2 - High - respond within 30 minutes*",
        "*SEV2 ingestion: Single API source failure - b: newest event is 99 min old (test_fresh[[]b])",
    ])
    assert result.ret == 1


def test_a_secret_never_reaches_the_terminal_or_the_verdict(scratch):
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    assert "hunter2-pw" not in result.stdout.str() + result.stderr.str()
    assert "hunter2-pw" not in (scratch.path / "reports" / "verdict.json").read_text()


@pytest.mark.slow  # starts xdist workers
def test_the_same_verdict_comes_out_of_xdist_workers(scratch):
    runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    serial = verdict_of(scratch)
    runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider", "-n", "2")
    parallel = verdict_of(scratch)
    for key in ("severity", "counts", "could_not_run", "broken"):
        assert serial[key] == parallel[key], key
    assert sorted(f["check"] for f in serial["findings"]) == sorted(f["check"] for f in parallel["findings"])


@pytest.mark.parametrize(
    ("args", "targets", "message"),
    [
        (["--target", "staging"], TARGETS, "ERROR: unknown target 'staging' in targets.toml: choose one of local*"),
        (["--target", "local", "--base-url", "nope"], TARGETS, "ERROR: --base-url must be an http(s) URL*"),
        (["--target", "local"], "[targets.local\n", "ERROR: *targets.toml is not valid TOML*"),
        (["--target", "local", "--targets-file", "missing.toml"], TARGETS, "ERROR: *missing.toml not found*"),
    ],
)
def test_a_bad_config_is_one_line_without_a_traceback(scratch, args, targets, message):
    scratch.makefile(".toml", targets=targets)
    result = runpytest_forked(scratch, *args, "-p", "no:cacheprovider")
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_an_unset_dsn_variable_makes_database_checks_could_not_run(scratch, monkeypatch):
    monkeypatch.delenv("SCRATCH_DSN", raising=False)
    scratch.makepyfile(test_checks="""
import pytest
pytestmark = pytest.mark.emergency
@pytest.mark.condition("database_connection")
def test_db(db):
    db.query("connection_saturation")
""")
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    (entry,) = verdict_of(scratch)["could_not_run"]
    assert "SCRATCH_DSN is not set: export SCRATCH_DSN=" in entry["reason"]
    assert result.ret == 6  # the database was never checked: not an incident, never a green gate either


# --- issue 8, item 9: checks that vanish or break ------------------------------------------------------


def test_an_unknown_condition_key_is_a_one_line_usage_error_naming_the_check(scratch):
    scratch.makepyfile(test_checks="""
import pytest
pytestmark = pytest.mark.emergency
@pytest.mark.condition("databse_connection")
def test_typo():
    pass
""")
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["ERROR: test_checks.py::test_typo: @pytest.mark.condition('databse_connection')*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (scratch.path / "reports" / "verdict.json").exists()


def test_a_failing_check_without_a_condition_is_still_a_finding(scratch):
    scratch.makepyfile(test_checks="""
import pytest
from scenescout_ir.core.outcomes import Finding
pytestmark = pytest.mark.emergency
def test_unmarked():
    assert False, "the widget is down"
def test_unknown_condition_at_run_time():
    raise Finding("no_such_condition", "the gadget is slow")
def test_fine():
    pass
""")
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    verdict = verdict_of(scratch)
    assert verdict["severity"] == "SEV3"
    findings = {f["check"]: f for f in verdict["findings"]}
    assert findings["test_unmarked"]["condition"] == "Single component degradation"
    assert findings["test_unmarked"]["component"] == "unclassified"
    assert findings["test_unknown_condition_at_run_time"]["summary"] == (
        "the gadget is slow (the check named an unknown condition 'no_such_condition')")
    result.stdout.fnmatch_lines(["VERDICT: SEV3*", "*SEV3 unclassified: * - the widget is down (test_unmarked)"])
    assert "VERDICT: OK" not in result.stdout.str()
    assert result.ret == 1


# --- issue 8, item 10: the whole run's time budget -----------------------------------------------------

BUDGETED = '''
import time
import pytest
from scenescout_ir.pytest_plugin.plugin import suite

@pytest.mark.emergency
@pytest.mark.condition("memory")
def test_1_takes_the_whole_budget(pytestconfig):
    (pytestconfig.rootpath / "budget.txt").write_text(str(suite(pytestconfig).budget_s))
    while suite(pytestconfig).budget_left() > 0:  # a check that waits as long as the run may take
        time.sleep(0.05)

@pytest.mark.emergency
@pytest.mark.condition("memory")
def test_2_after_the_budget():
    pass

@pytest.mark.performance
@pytest.mark.condition("slow_site")
def test_3_after_the_budget():
    pass
'''


@pytest.mark.slow  # waits out two run budgets
def test_checks_starting_after_the_runs_budget_could_not_run(scratch):
    scratch.makefile(".toml", targets=TARGETS + "[targets.local.budget]\nemergency_s = 2\ncomprehensive_s = 3\n")
    scratch.makepyfile(test_checks=BUDGETED)
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider", "-m", "emergency")
    assert (scratch.path / "budget.txt").read_text() == "2.0"  # emergency checks only: the emergency budget
    verdict = verdict_of(scratch)
    assert verdict["could_not_run"] == [
        {"check": "test_2_after_the_budget", "reason": "run budget of 2 s spent (targets.local.budget)"}]
    result.stdout.fnmatch_lines([
        "VERDICT: OK (incomplete: 1 of 2 checks could not run; 1 cut short: the run's time budget was spent)",
        "could not run (1; not counted as incidents):",
        "  - test_2_after_the_budget: run budget of 2 s spent (targets.local.budget)",
    ])
    runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider", "-m", "emergency or performance")
    assert (scratch.path / "budget.txt").read_text() == "3.0"  # any performance check: the longer budget
    assert [c["check"] for c in verdict_of(scratch)["could_not_run"]] == [
        "test_2_after_the_budget", "test_3_after_the_budget"]


DATABASE_CHECK = """
import pytest
pytestmark = pytest.mark.emergency

def test_site():
    pass
"""


def with_the_database_checks(pytester, checks=DATABASE_CHECK):
    """The scratch project with the suite's real checks/test_database.py next to its own checks."""
    from pathlib import Path

    real = Path(__file__).resolve().parents[2] / "checks" / "test_database.py"
    pytester.makepyfile(test_checks=checks, test_database=real.read_text())


@pytest.mark.parametrize(
    ("dsn", "phase"),
    [
        (None, "configuration"),  # DSN variable unset
        ("postgresql://oncall:pw-s3cret@scenescout-db.invalid:5432/scenescout", "dns"),
        ("postgresql://oncall:pw-s3cret@127.0.0.1:99999/scenescout", "configuration"),
    ],
)
def test_a_database_the_suite_cannot_see_is_a_loud_line_and_exit_6(scratch, monkeypatch, dsn, phase):
    if dsn is None:
        monkeypatch.delenv("SCRATCH_DSN", raising=False)
    else:
        monkeypatch.setenv("SCRATCH_DSN", dsn)
    with_the_database_checks(scratch)
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    verdict = verdict_of(scratch)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 6 and verdict["severity"] == "NOT CHECKED" and not verdict["findings"]
    (kept,) = (scratch.path / "reports" / "runs").iterdir()
    assert kept.name.endswith("-NOT-CHECKED")
    (blind,) = verdict["blind"]
    assert blind["component"] == "database" and "fix SCRATCH_DSN" in blind["reason"]
    assert blind["evidence"][0]["data"]["phase"] == phase
    result.stdout.fnmatch_lines(["VERDICT: NOT CHECKED - database*", "DATABASE NOT CHECKED: *fix SCRATCH_DSN"])
    assert "pw-s3cret" not in output and "pw-s3cret" not in json.dumps(verdict)


def test_a_refused_database_port_is_a_finding_with_its_connection_evidence(scratch, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SCRATCH_DSN", f"postgresql://oncall:pw-s3cret@127.0.0.1:{port}/scenescout")
    with_the_database_checks(scratch)
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    verdict = verdict_of(scratch)
    (finding,) = verdict["findings"]
    assert result.ret == 1 and verdict["severity"] == "SEV2" and not verdict["blind"]
    assert finding["summary"].startswith("DATABASE DOWN: nothing listens on the database port")
    (evidence,) = [e for e in finding["evidence"] if e["kind"] == "database"]
    assert evidence["data"]["phase"] == "tcp" and f"oncall@127.0.0.1:{port}/scenescout" in evidence["text"]
    assert "time spent: " in evidence["text"] and "pw-s3cret" not in json.dumps(verdict)


def test_a_finding_keeps_exit_1_when_the_database_is_not_checked(scratch, monkeypatch):
    monkeypatch.delenv("SCRATCH_DSN", raising=False)
    with_the_database_checks(scratch, DATABASE_CHECK + """
@pytest.mark.condition("log_errors")
def test_errors():
    assert False, "50 errors in 100 lines"
""")
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider")
    verdict = verdict_of(scratch)
    assert result.ret == 1 and verdict["severity"] == "SEV3" and verdict["blind"][0]["component"] == "database"
    result.stdout.fnmatch_lines(["VERDICT: SEV3*", "DATABASE NOT CHECKED: *"])


@pytest.mark.slow  # starts xdist workers
def test_xdist_workers_carry_the_database_not_checked_to_the_exit_code(scratch, monkeypatch):
    monkeypatch.setenv("SCRATCH_DSN", "postgresql://oncall:pw-s3cret@scenescout-db.invalid/scenescout")
    with_the_database_checks(scratch)
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider", "-n", "2")
    (blind,) = verdict_of(scratch)["blind"]
    assert result.ret == 6 and blind["check"] == "test_database_connectivity" and len(blind["checks"]) == 4


# --- issue 19: "could not run" is a check's outcome, not a way out for the suite's own tests --------------

SELF_TESTS = '''
import pytest
from scenescout_ir.core.outcomes import CouldNotRun

@pytest.fixture
def reader():
    raise CouldNotRun("log file y does not exist")

def test_a_helper_that_cannot_look():
    raise CouldNotRun("log file x does not exist")

def test_a_fixture_that_cannot_look(reader):
    pass
'''


def test_a_could_not_run_inside_a_test_that_is_not_a_check_fails_the_run(scratch):
    """The suite's own tests run with the plugin active (the checkout has a targets.toml): a helper that starts
    answering "could not run" outside pytest.raises fails its test instead of skipping it."""
    scratch.makepyfile(test_self=SELF_TESTS)
    result = runpytest_forked(scratch, "--target", "local", "-p", "no:cacheprovider", "test_self.py")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines([  # the setup error is reported first, then the failure
        "E *.CouldNotRun: log file y does not exist", "E *.CouldNotRun: log file x does not exist"])
    assert "could not run: " not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_could_not_run_inside_a_check_is_still_could_not_run_from_another_directory(scratch, monkeypatch):
    """`pytest ~/checkout/checks` from elsewhere: a check is recognised by its marker, wherever it lives."""
    elsewhere = scratch.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    verdict_file = elsewhere / "verdict.json"
    result = runpytest_forked(
        scratch, "--target", "local", "--targets-file", str(scratch.path / "targets.toml"), "--verdict-file",
        str(verdict_file), "-p", "no:cacheprovider", "-rs", "-k", "test_cannot_look",
        str(scratch.path / "test_checks.py"),
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] *test_checks.py:*: could not run: log file x does not exist"])
    verdict = json.loads(verdict_file.read_text())
    assert verdict["could_not_run"] == [{"check": "test_cannot_look", "reason": "log file x does not exist"}]


def test_a_run_exits_without_collecting_what_it_imported():
    """At exit, what is alive is frozen before the interpreter's last collections (they took 0.17 s a run)."""
    import subprocess
    import sys

    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            "import scenescout_ir.pytest_plugin.plugin\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "frozen at exit: True", out.stdout + out.stderr


FREEZE_PROBE = """
import gc


def pytest_unconfigure(config):
    with open("frozen.txt", "w") as fh:
        fh.write(str(gc.get_freeze_count() > 0))
"""


@pytest.mark.parametrize(("how", "frozen"), [("command line", "True"), ("pytest.main in a process", "False")])
def test_a_run_freezes_what_it_made_after_its_verdict_only_when_the_process_is_the_run(pytester, how, frozen):
    """pytest's full collections at unconfigure (0.1 s) walk only what came after the verdict: in a process that is
    the run; a program calling pytest.main goes on afterwards, and keeps collecting its garbage."""
    import subprocess
    import sys

    pytester.makeconftest(FREEZE_PROBE)
    pytester.makefile(".toml", targets=TARGETS)
    pytester.makepyfile(test_checks="import pytest\n\n@pytest.mark.emergency\ndef test_one():\n    pass\n")
    args = ["--target", "local", "-p", "no:cacheprovider", "-q"]
    cmd = [sys.executable, "-m", "pytest", *args] if how == "command line" else \
        [sys.executable, "-c", f"import pytest; pytest.main({args!r})"]
    subprocess.run(cmd, cwd=pytester.path, capture_output=True, timeout=120, check=False)
    assert (pytester.path / "frozen.txt").read_text() == frozen
