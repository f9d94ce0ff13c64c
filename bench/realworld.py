"""Time to verdict on deployments the demo stack is not: a site answering every request in 10.5 s, a site that
never answers, a body trickling one byte a second, a database that accepts connections and never answers.
Also the cost of the probable cause and the changes since the last healthy run. Writes
docs/benchmarks-realworld.md.

    python -m bench.realworld [--runs 3] [--out docs/benchmarks-realworld.md]

The sites and the hung database are the stand-ins of the suite's own tests (tests/servers.py), on 127.0.0.1.
Each run is the whole command as typed, in a fresh process, against a targets file outside the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .common import PY, ROOT, WORK, log, machine, run_timed, summary

MARKERS = {"emergency": ("emergency", 15.0), "full": ("emergency or comprehensive or performance", 60.0)}
HEALTHY = b'{"status": "ok", "database": "up"}'
PAGE = b"<!doctype html><html><head><title>SceneScout</title></head><body><main>events</main></body></html>"


def scenarios() -> dict[str, dict[str, Any]]:
    """name -> how to start its stand-ins, and the verdict the playbook calls for."""
    return {
        "site answering in 10.5 s": {"site": {"delay_s": 10.5}, "expect": "SEV2"},
        "site never answering": {"silent_site": True, "expect": "SEV1"},
        "body trickling 1 byte/s": {"site": {"trickle_s": 1.0}, "expect": "SEV1"},
        "database hung": {"site": {}, "silent_db": True, "expect": "SEV2"},
    }


def _targets(where: Path, base_url: str) -> Path:
    path = where / "targets.toml"
    path.write_text("\n".join([
        "[targets.bench]",
        f'base_url = "{base_url}"',
        'dsn_env = "SCENESCOUT_BENCH_DSN"',
        "logs = []",
        "host_checks = false",
        "[targets.bench.browser]",
        "navigation_timeout_s = 12",
    ]) + "\n")
    return path


def one(name: str, spec: dict[str, Any], marker: str, where: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.servers import Reply, SilentServer, StandInSite

    servers: list[Any] = []
    try:
        if spec.get("silent_site"):
            silent = SilentServer()
            servers.append(silent)
            base_url = f"http://127.0.0.1:{silent.port}"
        else:
            opts = spec["site"]
            replies = {p: Reply(200, HEALTHY, "application/json", **opts) for p in ("/health", "/api/health")}
            site = StandInSite(replies, default=Reply(200, PAGE, "text/html", **opts))
            servers.append(site)
            base_url = site.url
        env = {"SCENESCOUT_INCIDENTS_DIR": str(where / "incidents"), "SCENESCOUT_SLACK_WEBHOOK": ""}
        if spec.get("silent_db"):
            db = SilentServer()
            servers.append(db)
            env["SCENESCOUT_BENCH_DSN"] = f"postgresql://oncall:secret@127.0.0.1:{db.port}/scenescout"
        targets = _targets(where, base_url)
        verdict_file = where / "verdict.json"
        verdict_file.unlink(missing_ok=True)
        timed = run_timed([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MARKERS[marker][0],
                           "--target", "bench", f"--targets-file={targets}", f"--verdict-file={verdict_file}"],
                          cwd=ROOT, env=env, cap_s=180.0)
        verdict = json.loads(verdict_file.read_text()) if verdict_file.exists() else {}
        return {"seconds": timed.seconds, "capped": timed.capped, "severity": verdict.get("severity", "none"),
                "cut_short": sum(1 for c in verdict.get("could_not_run", [])
                                 if str(c.get("reason", "")).startswith("run budget of ")),
                "checks": verdict.get("counts", {}).get("total", 0), "load": os.getloadavg()[0]}
    finally:
        for server in servers:
            server.close()


def demo_runs(runs: int) -> list[dict[str, Any]]:
    """`pytest -m emergency` on the demo stack: healthy, the database hung, the app hung (issue 11's goals)."""
    sys.path.insert(0, str(ROOT))
    import shutil

    from fixtures.demo import DemoStack

    state = WORK / "realworld-stack"
    stack = DemoStack(state)
    stack.start()
    where = WORK / "realworld-demo"
    where.mkdir(parents=True, exist_ok=True)
    targets = where / "targets.toml"
    targets.write_text(f'[targets.demo]\nstack = "{state}"\nlogs = ["logs/application.log", "logs/ingestion.log"]\n'
                       "[targets.demo.thresholds]\nload_per_core = 1000\n")
    rows = []
    try:
        for fault, goal in (("healthy", 1.2), ("db_hanging", 4.5), ("app_hanging", 13.0)):
            stack.clear()
            if fault != "healthy":
                stack.inject(fault)
            seconds, severities = [], []
            for n in range(runs):
                log(f"demo {fault}, run {n + 1}")
                verdict = where / "verdict.json"
                verdict.unlink(missing_ok=True)
                timed = run_timed([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "emergency",
                                   f"--targets-file={targets}", f"--verdict-file={verdict}"], cwd=ROOT,
                                  env={"SCENESCOUT_INCIDENTS_DIR": str(where / "incidents"),
                                       "SCENESCOUT_SLACK_WEBHOOK": ""}, cap_s=120.0)
                seconds.append(timed.seconds)
                severities.append(json.loads(verdict.read_text()).get("severity") if verdict.exists() else "none")
            rows.append({"fault": fault, "goal": goal, "summary": summary(seconds), "severities": severities,
                         "load": os.getloadavg()[0]})
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return rows


def verdict_overhead(runs: int = 200) -> dict[str, Any]:
    """Milliseconds that probable cause and the changes add to assembling a verdict: a run with 30 findings
    over 60 checks, each with evidence, against a healthy fingerprint."""
    sys.path.insert(0, str(ROOT))
    from scenescout_ir.judge import fingerprint
    from scenescout_ir.judge.causes import probable_causes
    from scenescout_ir.judge.verdict import CheckRecord, findings_of

    def records(status: int, latency: float) -> list[CheckRecord]:
        out = []
        for i in range(60):
            evidence = [{"kind": "http", "title": f"GET /r{i}", "text": "x" * 2000,
                         "data": {"method": "GET", "url": f"https://x.app/r{i}?q=1", "status": status,
                                  "elapsed_s": latency}},
                        {"kind": "log", "title": "errors in app.log", "text": "",
                         "data": {"signatures": [[f"TypeError: failure {j}", 3] for j in range(20)]}}]
            failed = status >= 400 and i % 2 == 0
            out.append(CheckRecord(f"checks/test_x.py::test_{i}[s{i % 4}]", f"test_{i}[s{i % 4}]",
                                   "failed" if failed else "passed",
                                   ("partial_outage", "source_stale", "database_connection", "log_errors")[i % 4],
                                   f"failing {i}", 0.1, evidence))
        return out

    healthy = fingerprint.build([r.to_dict() for r in records(200, 0.04)], "t0")
    bad = records(500, 2.5)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        findings = findings_of(bad)
        probable_causes(findings, passed=[r.check for r in bad if r.outcome == "passed"])
        fingerprint.diff(healthy, fingerprint.build([r.to_dict() for r in bad], "t1"))
        times.append(time.perf_counter() - start)
    return {"median_ms": round(statistics.median(times) * 1000, 2), "max_ms": round(max(times) * 1000, 2),
            "runs": runs, "findings": len(findings_of(bad)), "checks": len(bad)}


def render(results: dict[str, Any], info: dict[str, Any]) -> str:
    out = [
        "# Benchmarks: verdicts on deployments the demo is not",
        "",
        "Written by `python -m bench.realworld`; measurements of one machine, not timed tests. Each figure is the "
        "median wall time of the whole command, in a fresh process, against stand-ins on 127.0.0.1 (the test "
        "suite's own, `tests/servers.py`), min–max in brackets; the targets file lies outside the checkout.",
        "",
        f"Machine: {info['cpus']} cores ({info['cpu_model']}), {info['memory_gib']} GiB, Python {info['python']}; "
        f"measured {results['measured_at']}. The 1-minute load average at each run is given: other work on the "
        "machine moves the figures more than the suite does.",
        "",
        "| stand-in | run | budget | verdict (playbook's) | wall time | checks cut short | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        s = row["summary"]
        verdicts = ", ".join(sorted(set(row["severities"])))
        ok = "" if set(row["severities"]) == {row["expect"]} else " **differs**"
        out.append(f"| {row['scenario']} | `pytest -m \"{MARKERS[row['marker']][0]}\"` | {row['budget']:g} s | "
                   f"{verdicts} ({row['expect']}){ok} | {s['median']:.2f} s ({s['min']:.2f}–{s['max']:.2f} s) | "
                   f"{row['cut_short']} | {row['load']:.1f} |")
    out += [
        "",
        "## `pytest -m emergency` on the demo stack (issue 11's goals)",
        "",
        "The run's independent probes start together when the session starts, so it waits for the slowest once.",
        "",
        "| demo stack | verdict | wall time, start-up included | goal | load |",
        "|---|---|---|---|---|",
    ]
    for row in results.get("demo", []):
        s = row["summary"]
        met = "met" if s["median"] <= row["goal"] else "**not met**"
        out.append(f"| {row['fault']} | {', '.join(sorted(set(row['severities'])))} | {s['median']:.2f} s "
                   f"({s['min']:.2f}–{s['max']:.2f} s) | {row['goal']:g} s ({met}) | {row['load']:.1f} |")
    v = results["overhead"]
    out += [
        "",
        "## The cost of the probable cause and the changes",
        "",
        f"Finding the probable causes and comparing the run's fingerprint with the last healthy one, for a run of "
        f"{v['checks']} checks with {v['findings']} findings, each check with an HTTP exchange and a log's 20 error "
        f"signatures as evidence: median **{v['median_ms']} ms** (max {v['max_ms']} ms) over {v['runs']} repetitions "
        "(goal: 50 ms).",
        "",
    ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realworld", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-realworld.md")
    args = parser.parse_args()
    where = WORK / "realworld"
    where.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, spec in scenarios().items():
        for marker, (_, budget) in MARKERS.items():
            results = []
            for n in range(args.runs):
                log(f"{name}, {marker}, run {n + 1}")
                results.append(one(name, spec, marker, where))
            rows.append({"scenario": name, "marker": marker, "budget": budget, "expect": spec["expect"],
                         "summary": summary([r["seconds"] for r in results]),
                         "severities": [r["severity"] for r in results],
                         "cut_short": max(r["cut_short"] for r in results),
                         "load": statistics.median(r["load"] for r in results)})
    data = {"rows": rows, "overhead": verdict_overhead(), "demo": demo_runs(args.runs),
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.write_text(render(data, machine()))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
