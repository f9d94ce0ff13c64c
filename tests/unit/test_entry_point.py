"""The suite is a pytest plugin registered by its pytest11 entry point: its options work in both forms from any
directory with a targets file anywhere, and another project in the same environment does not notice it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args, cwd):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # real runs waiting out a silent site
@pytest.mark.parametrize("form", ["space", "equals"])
def test_a_targets_file_outside_the_checkout_from_another_directory(tmp_path, silent_server, form):
    targets = tmp_path / "etc" / "targets.toml"
    targets.parent.mkdir()
    targets.write_text(f'[targets.outside]\nbase_url = "http://127.0.0.1:{silent_server}"\nlogs = []\n'
                       'host_checks = false\n[targets.outside.timeouts]\nread_s = 1\n'
                       '[targets.outside.thresholds]\nresponse_sev2_s = 1\n')
    options = {"space": ["--targets-file", str(targets), "--target", "outside", "--verdict-file", "out/verdict.json"],
               "equals": [f"--targets-file={targets}", "--target=outside", "--verdict-file=out/verdict.json"]}[form]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    verdict = elsewhere / "out" / "verdict.json"  # relative paths: from where pytest was invoked
    done = run([str(ROOT / "checks" / "test_site.py"), "-m", "emergency", *options], cwd=elsewhere)
    assert "unrecognized arguments" not in done.stderr
    data = json.loads(verdict.read_text())
    assert data["target"] == "outside" and data["severity"] == "SEV1", done.stdout[-2000:]
    assert "rootdir: " + str(ROOT) in done.stdout  # the checkout's settings (pyproject.toml) apply


def test_another_project_in_the_same_environment_does_not_notice_the_plugin(tmp_path):
    (tmp_path / "test_theirs.py").write_text("def test_theirs(tmp_path):\n    assert tmp_path.exists()\n")
    done = run(["-q"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT" not in done.stdout and "target:" not in done.stdout
    assert not (tmp_path / "reports").exists()


def test_a_check_run_without_any_targets_file_is_one_line(tmp_path):
    done = run([str(ROOT / "checks" / "test_site.py"), "-m", "emergency", "--rootdir", str(tmp_path)], cwd=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "targets.toml not found" in done.stderr and "Traceback" not in done.stderr


def test_another_projects_markers_named_like_ours_are_left_alone(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nmarkers = ["condition(x): theirs"]\n')
    (tmp_path / "test_theirs.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.performance\ndef test_a():\n    pass\n\n"
        "@pytest.mark.condition('whatever they mean')\ndef test_b():\n    pass\n")
    done = run(["-v"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.index("test_a") < done.stdout.index("test_b")  # their order, their condition marker


def test_a_path_option_given_apart_that_would_move_the_project_root_is_one_line(tmp_path):
    """From the checkout, with no test path: pytest chooses the root dir before the suite is loaded, so the value
    of `--targets-file /elsewhere/targets.toml` is read as a test path; the run was rooted at /elsewhere, lost the
    checkout's pytest settings and collected the whole checkout, the suite's own tests too. Now: exit 4, one
    line with the fix; the `=` form is the same run rooted at the checkout, collecting only its checks."""
    targets = tmp_path / "etc" / "targets.toml"
    targets.parent.mkdir()
    targets.write_text('[targets.outside]\nbase_url = "http://127.0.0.1:9"\nhost_checks = false\n')
    apart = run(["-m", "emergency", "--co", "-q", "--targets-file", str(targets), "--target", "outside"], cwd=ROOT)
    assert apart.returncode == pytest.ExitCode.USAGE_ERROR, apart.stdout[-2000:]
    (line,) = [ln for ln in apart.stderr.splitlines() if ln.strip()]
    assert f"write it --targets-file={targets}" in line and "Traceback" not in apart.stderr
    # any plugin's option, not only the suite's: Allure's results directory outside the checkout, given apart
    results = tmp_path / "allure-results"
    results.mkdir()
    allure = run(["-m", "emergency", "--co", "-q", f"--targets-file={targets}", "--target", "outside",
                  "--alluredir", str(results)], cwd=ROOT)
    assert allure.returncode == pytest.ExitCode.USAGE_ERROR, allure.stdout[-2000:]
    assert f"write it --alluredir={results}:" in allure.stderr and "Traceback" not in allure.stderr
    joined = run(["-m", "emergency", "--co", "-q", f"--targets-file={targets}", "--target", "outside"], cwd=ROOT)
    assert joined.returncode == pytest.ExitCode.OK, joined.stdout[-2000:] + joined.stderr
    collected = [ln for ln in joined.stdout.splitlines() if "::" in ln]
    assert collected and all(ln.startswith(("checks/", "scenarios/")) for ln in collected), collected[:5]
