"""Issue 8, item 5: a run stopped by Ctrl-C (SIGINT) or SIGTERM half-way never says OK.

The run is started as the on-call engineer starts it, against a site that accepts the connection and never
answers (tests/servers.py SilentServer), so it is inside a check when the signal arrives: the signal is sent
once the stand-in has accepted the run's connection, never after a guessed delay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scenescout_ir import incident
from tests.demo_support import ROOT, wait_for
from tests.servers import SilentServer

PREVIOUS = {"target": "hung", "severity": "OK", "findings": [], "note": "the previous run's verdict"}


@pytest.fixture
def hung_site():
    server = SilentServer()
    yield server
    server.close()


def start_run(tmp_path: Path, port: int) -> tuple[subprocess.Popen[bytes], Path, Path]:
    targets = tmp_path / "targets.toml"
    targets.write_text(
        "[targets.hung]\n"
        f'base_url = "http://127.0.0.1:{port}"\n'
        'dsn_env = "SCENESCOUT_TEST_NO_SUCH_DSN"\n'
        "host_checks = false\n"
        "[targets.hung.timeouts]\n"
        "read_s = 50\n"  # the run waits on the hung site until it is interrupted
    )
    verdict_file = tmp_path / "reports" / "verdict.json"
    verdict_file.parent.mkdir()
    verdict_file.write_text(json.dumps(PREVIOUS))
    out = tmp_path / "output.txt"
    env = {**os.environ, incident.INCIDENTS_ENV: str(tmp_path / "incidents"), "SCENESCOUT_SLACK_WEBHOOK": ""}
    env.pop("SCENESCOUT_TEST_NO_SUCH_DSN", None)
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "emergency", "checks/test_site.py",
             "--targets-file", str(targets), "--target", "hung", "--verdict-file", str(verdict_file)],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=env,
        )
    return proc, verdict_file, out


@pytest.mark.parametrize(("sig", "said"), [(signal.SIGINT, "SIGINT (Ctrl-C)"), (signal.SIGTERM, "SIGTERM")])
def test_an_interrupted_run_is_interrupted_never_ok(tmp_path, hung_site, sig, said):
    log = incident.start(tmp_path / "incidents", "the site hangs")
    proc, verdict_file, out = start_run(tmp_path, hung_site.port)
    try:
        wait_for(lambda: hung_site._held, "the run to be waiting on the hung site", timeout=30)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == pytest.ExitCode.INTERRUPTED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = out.read_text()
    assert "VERDICT: OK" not in output
    assert f"VERDICT: INTERRUPTED - stopped by {said} after " in output, output[-2000:]
    assert "Traceback" not in output

    verdict = json.loads(verdict_file.read_text())  # replaced, whole, by the interrupted run's
    assert verdict["severity"] == "INTERRUPTED" and verdict["interrupted"] == said
    assert not [p.name for p in verdict_file.parent.iterdir() if p.name.startswith(".verdict-")]

    (kept,) = (verdict_file.parent / "runs").iterdir()
    assert kept.name.endswith("-INTERRUPTED")
    assert json.loads((kept / "verdict.json").read_text())["severity"] == "INTERRUPTED"

    text = log.read_text()
    assert f"Investigation findings: VERDICT: INTERRUPTED - stopped by {said}" in text
    assert "VERDICT: OK" not in text and "VERDICT: SEV" not in text


def test_a_signal_while_the_verdict_is_written_does_not_cut_it_in_half(pytester, monkeypatch):
    """Once the run is over and its verdict, kept run and incident line are being written, SIGTERM and a
    second Ctrl-C no longer interrupt: what is written is whole."""
    monkeypatch.setenv(incident.INCIDENTS_ENV, str(pytester.path / "incidents"))
    monkeypatch.setenv("SCENESCOUT_SLACK_WEBHOOK", "")
    pytester.makeconftest(
        'import os, signal\n'
        '# the plugin comes from its pytest11 entry point\n'
        'def pytest_scenescout_verdict(verdict, config):\n'
        '    os.kill(os.getpid(), signal.SIGTERM)\n'
        '    os.kill(os.getpid(), signal.SIGINT)\n'
    )
    pytester.makefile(".toml", targets='[targets.local]\nbase_url = "http://127.0.0.1:9"\nhost_checks = false\n')
    pytester.makepyfile(test_checks=(
        "import pytest\n"
        "@pytest.mark.emergency\n"
        "@pytest.mark.condition('memory')\n"
        "def test_fine():\n"
        "    pass\n"
    ))
    result = pytester.runpytest_subprocess("--target", "local", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["VERDICT: OK", "*verdict written to*", "run kept in *"])
    (kept,) = (pytester.path / "reports" / "runs").iterdir()
    assert kept.name.endswith("-OK") and json.loads((kept / "verdict.json").read_text())["severity"] == "OK"
    assert len(list((kept / "allure-results").glob("*-result.json"))) == 2  # the check's and the verdict's
