"""The deploy gate's machinery without a demo stack: waivers in targets.toml, the merge's rules, many targets
stopped by a signal (real runs against a site that never answers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from scenescout_ir.core.config import Waiver, load_targets
from scenescout_ir.core.outcomes import ConfigError
from scenescout_ir.incident import log as incident
from scenescout_ir.judge.verdict import FAILED, PASSED, CheckRecord
from scenescout_ir.pytest_plugin import gate, waivers
from scenescout_ir.reporting import merge
from tests.demo_support import ROOT, wait_for
from tests.forkserver import runpytest_forked
from tests.servers import SilentServer

BASE = '[targets.x]\nbase_url = "https://example.org"\n'


def load(tmp_path: Path, text: str):
    path = tmp_path / "targets.toml"
    path.write_text(BASE + text)
    return load_targets(path)["x"]


def test_waivers_are_read_with_their_date_and_reason(tmp_path):
    target = load(tmp_path, '[targets.x.waivers]\n"test_a[/x]" = { reason = "known", expires = 2026-12-31 }\n'
                            'test_b = { reason = "later", expires = "2027-01-15" }\n')
    assert target.waivers == (Waiver("test_a[/x]", "known", date(2026, 12, 31)),
                              Waiver("test_b", "later", date(2027, 1, 15)))


@pytest.mark.parametrize(("table", "said"), [
    ('test_a = { expires = 2026-12-31 }', "it has no reason"),
    ('test_a = { reason = "  " , expires = 2026-12-31 }', "it has no reason"),
    ('test_a = { reason = "known" }', "it has no expires"),
    ("test_a = {}", "it has neither"),
    ('test_a = { reason = "known", expires = 31 }', "targets.x.waivers.test_a.expires must be a date like"),
    ('test_a = { reason = "known", expires = 2026-12-31, until = 2027-01-01 }', "until"),
])
def test_a_waiver_without_reason_or_expiry_is_a_configuration_error(tmp_path, table, said):
    with pytest.raises(ConfigError, match="targets.x.waivers") as err:
        load(tmp_path, "[targets.x.waivers]\n" + table + "\n")
    assert said in str(err.value) and "\n" not in str(err.value)


def test_a_waiver_holds_through_its_last_day_and_names_its_check_or_parameter():
    w = [Waiver("test_a", "all of a", date(2026, 12, 31)), Waiver("test_a[/x]", "just /x", date(2026, 11, 30))]
    assert waivers.matching(w, "test_a[/x]").reason == "just /x"
    assert waivers.matching(w, "test_a[/y]").reason == "all of a"
    assert waivers.matching(w, "test_ab") is None
    assert waivers.holds(w[0], date(2026, 12, 31)) and not waivers.holds(w[0], date(2027, 1, 1))
    records = [CheckRecord("n1", "test_a[/y]", FAILED, "api_endpoint_down", "500"),
               CheckRecord("n2", "test_a[/x]", FAILED, "api_endpoint_down", "500"),
               CheckRecord("n3", "test_b", PASSED)]
    kept, waived = waivers.split(records, w, date(2026, 12, 1))  # the /x one expired the day before
    assert [r.check for r in kept] == ["test_a[/x]", "test_b"]
    assert [(x["check"], x["reason"], x["expires"]) for x in waived] == [("test_a[/y]", "all of a", "2026-12-31")]


def test_a_waiver_naming_no_check_is_found_before_the_run():
    known = waivers.known_checks([ROOT])
    assert "test_health_endpoint" in known and "test_page_renders_events" in known
    collected = ["test_health_endpoint[/health]", "test_health_endpoint[/api/health]"]
    bad = waivers.unknown_checks([Waiver("test_health_endpoint[/api/health]", "r", date.today()),
                                  Waiver("test_nope", "r", date.today()),
                                  Waiver("test_health_endpoint[/nope]", "r", date.today())], known, collected)
    assert bad == ["test_nope", "test_health_endpoint[/nope]"]


def run(tmp_path: Path, target: str, severity: str, **more) -> Path:
    d = tmp_path / target
    d.mkdir()
    (d / "verdict.json").write_text(json.dumps({"target": target, "severity": severity, "counts": {"passed": 3},
                                                "findings": [], **more}))
    return d


def test_the_merge_gives_the_worst_verdict_and_the_gate_its_exit_code(tmp_path):
    finding = {"check": "test_x", "severity": "SEV3", "summary": "slow"}
    dirs = [run(tmp_path, "eu", "OK"), run(tmp_path, "us", "SEV3", findings=[finding]),
            run(tmp_path, "asia", "SEV2", findings=[{**finding, "severity": "SEV2"}])]
    merged, code, lines = merge.merge(dirs, tmp_path / "out")
    assert code == 1 and merged["severity"] == "SEV2"
    assert lines[-1] == "COMBINED VERDICT: SEV2 - eu OK, us SEV3, asia SEV2"
    assert [f["target"] for f in merged["findings"]] == ["us", "asia"]
    assert merged["counts"]["passed"] == 9
    assert json.loads((tmp_path / "out" / "verdict.json").read_text()) == merged


@pytest.mark.parametrize(("verdicts", "code", "label"), [
    ([("a", "OK", {}), ("b", "OK", {})], 0, "OK"),
    ([("a", "OK", {}), ("b", "INTERRUPTED", {})], 2, "INTERRUPTED"),
    ([("a", "OK", {}), ("b", None, {})], 2, "NO VERDICT"),  # the job left no verdict.json
    ([("a", "OK", {"blind": [{"component": "database"}]}), ("b", "OK", {})], 6, "NOT CHECKED"),
    ([("a", "OK", {"flaky": [{"check": "test_x"}]})], 0, "OK"),
    ([("a", "SEV4", {}), ("b", "INTERRUPTED", {})], 1, "SEV4"),
])
def test_the_gate_exit_code_of_a_merge(tmp_path, verdicts, code, label):
    dirs = []
    for name, severity, more in verdicts:
        if severity is None:
            (tmp_path / name).mkdir()
            dirs.append(tmp_path / name)
        else:
            dirs.append(run(tmp_path, name, severity, **more))
    merged, got, _ = merge.merge(dirs, tmp_path / "out")
    assert (got, merged["severity"]) == (code, label)


def test_a_flaky_check_fails_the_merge_only_when_the_gate_says_so(tmp_path):
    dirs = [run(tmp_path, "a", "OK", flaky=[{"check": "test_x", "summary": "failed 1 of 2 attempts"}])]
    assert merge.merge(dirs, tmp_path / "o1")[1] == 0
    assert merge.merge(dirs, tmp_path / "o2", flaky_fails=True)[1] == 7


def test_each_target_gets_its_own_verdict_file_junit_and_alluredir():
    args, own = gate.child_args(["-m", "emergency", "--target", "a", "--target=b", "--verdict-file", "v.json",
                                 "--junitxml=j.xml", "--alluredir", "al", "-k", "site"])
    assert args == ["-m", "emergency", "-k", "site"]
    assert own == {"--target": "b", "--verdict-file": "v.json", "--junitxml": "j.xml", "--alluredir": "al"}


def hung_run(tmp_path: Path, servers: dict[str, SilentServer], fork: str, pytest_cmd: tuple[str, ...] = (
        sys.executable, "-m", "pytest")) -> subprocess.Popen[bytes]:
    """``--target all`` over targets whose site never answers, in a process group of its own."""
    targets = tmp_path / "targets.toml"
    targets.write_text("".join(
        f'[targets.{name}]\nbase_url = "http://127.0.0.1:{server.port}"\ndsn_env = "SCENESCOUT_TEST_NO_SUCH_DSN"\n'
        f"host_checks = false\n[targets.{name}.timeouts]\nread_s = 50\n" for name, server in servers.items()))
    env = {**os.environ, incident.INCIDENTS_ENV: str(tmp_path / "incidents"), "SCENESCOUT_SLACK_WEBHOOK": "",
           gate.FORK_ENV: fork}
    env.pop("SCENESCOUT_TEST_NO_SUCH_DSN", None)
    with (tmp_path / "output.txt").open("wb") as sink:
        return subprocess.Popen(
            [*pytest_cmd, "-p", "no:cacheprovider", "-m", "emergency", "checks/test_site.py",
             "--targets-file", str(targets), "--target", "all",
             "--verdict-file", str(tmp_path / "reports" / "verdict.json")],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )


def stop_hung_run(proc: subprocess.Popen[bytes], servers: dict[str, SilentServer], stop: Callable[[], None]) -> list:
    """Once every target's run waits on its hung site: the command lines of the target runs, then ``stop()``;
    returns them once the run has exited 2."""
    import psutil

    try:
        wait_for(lambda: all(s._held for s in servers.values()), "each target's run to wait on its hung site",
                 timeout=60)
        children = [child.cmdline() for child in psutil.Process(proc.pid).children()]
        stop()
        assert proc.wait(timeout=60) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for server in servers.values():
            server.close()
    return children


def assert_each_interrupted(tmp_path: Path, names: list[str], by: str) -> None:
    output = (tmp_path / "output.txt").read_text()
    assert f"COMBINED VERDICT: INTERRUPTED - {' '.join(f'{n} INTERRUPTED,' for n in names).rstrip(',')}" in output, \
        output
    assert "Traceback" not in output
    for name in names:  # each its own verdict file, written by its own run
        own = json.loads((tmp_path / "reports" / "targets" / name / "verdict.json").read_text())
        assert (own["target"], own["severity"], own["interrupted"]) == (name, "INTERRUPTED", by), own
        assert list((tmp_path / "reports" / "targets" / name / "runs").glob("*-INTERRUPTED"))
    assert json.loads((tmp_path / "reports" / "verdict.json").read_text())["severity"] == "INTERRUPTED"


@pytest.mark.slow  # sends signals to real runs of three targets
@pytest.mark.parametrize("fork", ["1", "0"], ids=["forked", "child-processes"])
def test_many_targets_stopped_by_sigterm_end_interrupted_each_and_not_verified(tmp_path, fork):
    """A cancelled CI job: SIGTERM to the run reaches every target's run, each ends INTERRUPTED with its own
    verdict, and the combined one is INTERRUPTED (exit 2), never OK: forked target runs and the fallback, a
    child pytest process per target ($SCENESCOUT_GATE_FORK=0)."""
    servers = {"blue": SilentServer(), "green": SilentServer()}
    proc = hung_run(tmp_path, servers, fork)
    children = stop_hung_run(proc, servers, lambda: proc.send_signal(signal.SIGTERM))
    own = [next(a.split("=", 1)[1] for a in cmd if a.startswith("--target=")) if fork == "0"
           else cmd[cmd.index("--target") + 1] for cmd in children]
    assert sorted(own) == (["all", "all"] if fork == "1" else ["blue", "green"]), children  # a fork: the run's own
    assert_each_interrupted(tmp_path, ["blue", "green"], "SIGTERM")


@pytest.mark.slow  # sends signals to real runs of three targets
def test_forked_target_runs_stopped_by_ctrl_c_to_the_process_group_end_interrupted_once(tmp_path):
    """A terminal's Ctrl-C: SIGINT to the whole process group reaches the run only (each forked target run is in
    a session of its own), which hands it to every target's run once: each ends INTERRUPTED by SIGINT alone (not
    "then again while stopping"), each with its own verdict file and kept run; the combined verdict exits 2.
    Run as a terminal user runs it, the ``pytest`` script (its import path differs from ``python -m pytest``)."""
    servers = {"blue": SilentServer(), "green": SilentServer(), "red": SilentServer()}
    proc = hung_run(tmp_path, servers, "1", (str(Path(sys.executable).with_name("pytest")),))
    children = stop_hung_run(proc, servers, lambda: os.killpg(proc.pid, signal.SIGINT))
    assert [cmd[cmd.index("--target") + 1] for cmd in children] == ["all"] * 3, children  # forks of the run
    assert_each_interrupted(tmp_path, ["blue", "green", "red"], "SIGINT (Ctrl-C)")


def test_watch_follows_one_target(pytester):
    pytester.makefile(".toml", targets=BASE.replace("targets.x", "targets.a") + BASE.replace("targets.x", "targets.b"))
    result = runpytest_forked(pytester, "--target", "a", "--target", "b", "--watch", "5s", "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: --watch follows one target: run one watch per target (a, b)"])


LOADER_CHECK = """
import sys

from _pytest.assertion.rewrite import AssertionRewritingHook


def test_the_plugin_parts_came_rewritten_from_the_run(request):
    for name in ("scenescout_ir.pytest_plugin.fixtures", "scenescout_ir.pytest_plugin.browser_fixtures"):
        loader = sys.modules[name].__loader__
        assert isinstance(loader, AssertionRewritingHook), (name, loader)  # its asserts rewritten
        assert loader is not request.config.pluginmanager.rewrite_hook, name  # by the run's hook, not this one's
"""


def test_forked_target_runs_find_the_suites_plugin_parts_imported_and_rewritten_by_the_run(pytester):
    """Each forked target run registers the suite's fixtures as a run of its own would, without importing them
    (and Playwright's sync API and requests under them) again: the run imported them through its own rewriter."""
    pytester.makefile(".toml", targets=BASE.replace("targets.x", "targets.a") + BASE.replace("targets.x", "targets.b"))
    pytester.makepyfile(test_loader=LOADER_CHECK)
    runpytest_forked(pytester, "--target", "a", "--target", "b", "-p", "no:cacheprovider")
    for name in ("a", "b"):
        output = (pytester.path / "reports" / "targets" / name / "output.txt").read_text()
        assert "1 passed" in output, output


FAKE_GIT = """#!/bin/sh
echo "$@" >> "$GIT_CALLS"
case "$1" in rev-parse) echo c0ffee1 ;; esac
"""


def test_forked_target_runs_name_the_suites_commit_asked_of_git_once_by_the_run(pytester, monkeypatch):
    """The suite's commit (Allure's environment) is asked of git by the run, before its forks: not twice per
    target (two processes each), and every target's results still name it."""
    bin_dir = pytester.mkdir("bin")
    (bin_dir / "git").write_text(FAKE_GIT)
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GIT_CALLS", str(pytester.path / "git-calls.txt"))
    pytester.makefile(".toml", targets="".join(BASE.replace("targets.x", f"targets.{n}") for n in "abc"))
    pytester.makepyfile(test_one="import pytest\n\n@pytest.mark.emergency\ndef test_one():\n    pass\n")
    runpytest_forked(pytester, "--target", "all", "-p", "no:cacheprovider")
    calls = (pytester.path / "git-calls.txt").read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["rev-parse", "status"], calls
    for name in "abc":
        (env,) = (pytester.path / "reports" / "targets" / name / "runs").glob("*/allure-results/environment.properties")
        assert "suite_commit=c0ffee1\n" in env.read_text(), name


BREAKS_B = """
import os

import pytest


def pytest_configure(config):
    if os.environ.get("BREAK_B") and config.getoption("target") == "b":
        raise pytest.UsageError("target b's run cannot start")
"""


@pytest.mark.parametrize("fork", ["1", pytest.param("0", marks=pytest.mark.slow)],  # two runs of child processes
                         ids=["forked", "child-processes"])
def test_a_target_whose_run_ends_without_a_verdict_is_never_merged_with_an_earlier_runs(pytester, monkeypatch, fork):
    """The run before left b's verdict (OK) in reports/targets/b/; this run of b fails before writing one (a usage
    error): the combined verdict says b has no verdict (exit 2), never the earlier OK."""
    monkeypatch.setenv("SCENESCOUT_GATE_FORK", fork)
    pytester.makefile(".toml", targets="".join(BASE.replace("targets.x", f"targets.{n}") for n in "ab"))
    pytester.makeconftest(BREAKS_B)
    pytester.makepyfile(test_one="import pytest\n\n@pytest.mark.emergency\ndef test_one():\n    pass\n")
    first = runpytest_forked(pytester, "--target", "all", "-p", "no:cacheprovider", "--junitxml=junit.xml")
    assert first.ret == 0 and "COMBINED VERDICT: OK" in first.stdout.str(), first.stdout.str()
    monkeypatch.setenv("BREAK_B", "1")
    second = runpytest_forked(pytester, "--target", "all", "-p", "no:cacheprovider", "--junitxml=junit.xml")
    assert second.ret == 2, second.stdout.str()
    merged = json.loads((pytester.path / "reports" / "verdict.json").read_text())
    assert [(t["target"], t["severity"]) for t in merged["targets"]] == [("a", "OK"), ("b", "NO VERDICT")], merged
    # the JUnit file a CI reads: b's suite is an error (its earlier passing suite neither merged nor left out)
    suites = {s.get("name"): s for s in ET.parse(pytester.path / "junit.xml").getroot()}
    assert set(suites) == {"a", "b"} and suites["a"].get("errors") == "0", suites
    assert [c.get("classname") for c in suites["a"].iter("testcase")] == ["a.test_one"]  # keyed apart from b's
    (error,) = suites["b"].iter("error")
    assert suites["b"].get("errors") == "1" and "exit 4 before its checks" in error.get("message"), error.attrib


def test_a_kept_run_without_allure_results_is_merged_without_an_earlier_runs_results(tmp_path):
    """A run with Allure off kept its verdict but no results; reports/allure-results still links to an earlier
    run's: the merge takes none of them as this run's evidence."""
    def kept(name, started):
        verdict = {"target": "a", "severity": "OK", "started_at": started, "counts": {"passed": 1}, "findings": []}
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "verdict.json").write_text(json.dumps(verdict))
        return verdict

    kept("20261203T070000Z-OK", "2026-12-03T07:00:00+00:00")
    (tmp_path / "runs" / "20261203T070000Z-OK" / "allure-results").mkdir()
    (tmp_path / "runs" / "20261203T070000Z-OK" / "allure-results" / "old-result.json").write_text("{}")
    (tmp_path / "allure-results").symlink_to("runs/20261203T070000Z-OK/allure-results")
    (tmp_path / "verdict.json").write_text(json.dumps(kept("20261203T080000Z-OK", "2026-12-03T08:00:00+00:00")))
    assert merge.read_run(tmp_path).results is None
    (tmp_path / "runs" / "20261203T080000Z-OK" / "allure-results").mkdir()
    assert merge.read_run(tmp_path).results == tmp_path / "runs" / "20261203T080000Z-OK" / "allure-results"


def test_a_target_name_that_would_lead_out_of_its_reports_dir_is_one_line(pytester):
    """Each target's files go to reports/targets/<name>/, its earlier verdict removed first: ``--target ..`` would
    have been reports/ itself (and ``../..`` the project), so such a name is refused before anything is touched."""
    pytester.makefile(".toml", targets=BASE.replace("targets.x", "targets.a"))
    (pytester.path / "reports").mkdir()
    (pytester.path / "reports" / "verdict.json").write_text("{}")
    for odd in ("..", "../..", "a/b"):
        result = runpytest_forked(pytester, "--target=a", f"--target={odd}", "-p", "no:cacheprovider")
        assert result.ret == 4, result.stdout.str()
        result.stderr.fnmatch_lines([f"ERROR: target name '{odd}' cannot name its reports dir*"])
    assert (pytester.path / "reports" / "verdict.json").read_text() == "{}"
    assert not (pytester.path / "reports" / "targets").exists()


@pytest.mark.parametrize("tool", ["missing", "failing"])
def test_a_report_that_cannot_be_rendered_never_replaces_the_gates_verdict(tmp_path, monkeypatch, capsys, tool):
    """``merge --html`` without the Allure tool, or with one that fails: the combined verdict is still written,
    printed and the exit code (the deployment's, not the report's), and the line says the report is missing."""
    from scenescout_ir.__main__ import main

    allure = tmp_path / "allure"
    if tool == "failing":
        allure.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
        allure.chmod(0o755)
    monkeypatch.setenv("SCENESCOUT_ALLURE", str(allure))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    finding = {"check": "test_x", "severity": "SEV3", "summary": "slow"}
    dirs = [run(tmp_path, "eu", "OK"), run(tmp_path, "us", "SEV3", findings=[finding])]
    (dirs[1] / "allure-results").mkdir()
    (dirs[1] / "allure-results" / "x-result.json").write_text('{"name": "test_x", "status": "failed"}')
    code = main(["merge", *map(str, dirs), "--output", str(tmp_path / "out"), "--html", str(tmp_path / "r.html")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1, out
    assert out[-1] == "COMBINED VERDICT: SEV3 - eu OK, us SEV3"
    assert out[-2].startswith("report: not rendered (")
    assert ("not installed" if tool == "missing" else "allure generate failed (exit 3)") in out[-2], out[-2]
    assert json.loads((tmp_path / "out" / "verdict.json").read_text())["severity"] == "SEV3"
    assert not (tmp_path / "r.html").exists()


def test_an_import_that_starts_a_thread_makes_the_targets_runs_child_processes(monkeypatch, pytestconfig):
    """The run forks only while it has no other thread (a fork copies the locks a thread holds): checked again
    after it has imported what the forks share, since an import may start one. (That it forks otherwise, the
    forked-runs tests above show: their target runs are forks of the run.)"""
    import gc
    import threading

    stop = threading.Event()
    monkeypatch.setattr(gate, "preload", lambda config: threading.Thread(target=stop.wait, daemon=True).start())
    try:
        assert gate.share_before_forks(pytestconfig) is False
    finally:
        stop.set()
        gc.unfreeze()
