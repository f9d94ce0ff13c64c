"""Time to verdict with the provider checks on: `pytest -m emergency` on the demo stack's prod flavour (its
Supabase stand-in), healthy and under a hung Management API, beside the same run with the provider checks off.

    python -m bench.provider [--runs 5]        -> docs/benchmarks-provider.md

The provider's requests start with the session's other probes, so a Management API that never answers costs
the run one read timeout (targets' timeouts.read_s, 5 s by default) in parallel with everything else, and the
verdict stays inside the emergency budget (15 s). Measurements of one machine, not timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .common import PY, ROOT, WORK, log, machine, quiet_machine, run_timed, summary

CAP_S = 60.0
BUDGET_S = 15.0  # the emergency budget (targets' budget.emergency_s default)


def _targets(stack: Any, provider: bool) -> Path:
    from fixtures.demo.prod_targets import prod_targets

    info = stack.info()
    sections = {} if provider else {"supabase": {"token_env": "SCENESCOUT_BENCH_NO_TOKEN"}}  # not applicable
    thresholds = {"load_per_core": 1000, "disk_used_pct": 99.9, "memory_used_pct": 99.9}
    path = WORK / f"provider-targets-{'on' if provider else 'off'}.toml"
    path.write_text(prod_targets(info.state_dir, info.api_url, thresholds=thresholds, sections=sections))
    return path


def _run(targets: Path) -> dict[str, Any]:
    verdict_file = WORK / "provider-verdict.json"
    verdict_file.unlink(missing_ok=True)
    timed = run_timed([PY, "-m", "pytest", "-m", "emergency", "-q", "-p", "no:cacheprovider", "--target", "prod",
                       f"--targets-file={targets}", f"--verdict-file={verdict_file}"], cap_s=CAP_S)
    verdict = json.loads(verdict_file.read_text()) if verdict_file.exists() else {}
    counts = verdict.get("counts") or {}
    return {"seconds": timed.seconds, "capped": timed.capped, "severity": verdict.get("severity"),
            "could_not_run": counts.get("could_not_run", 0), "total": counts.get("total", 0),
            "requests": (verdict.get("footprint") or {}).get("http_requests"), "load": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.provider", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-provider.md")
    args = parser.parse_args()
    from fixtures.demo import DemoStack, supabase_api

    state_dir = WORK / "provider-stack"
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    state_dir.chmod(0o755)
    WORK.chmod(0o755)
    stack = DemoStack(state_dir, flavour="prod")
    stack.start()
    rows = []
    try:
        off, on = _targets(stack, provider=False), _targets(stack, provider=True)
        load_start = quiet_machine()
        _run(on)  # warm-up, not counted
        for name, targets, mode in (("healthy, provider checks off (no token)", off, None),
                                    ("healthy, provider checks on", on, None),
                                    ("Management API hung, provider checks on", on, "hang")):
            supabase_api.set_mode(state_dir, mode)
            try:
                results = []
                for n in range(args.runs):
                    log(f"{name}: run {n + 1}")
                    results.append(_run(targets))
            finally:
                supabase_api.set_mode(state_dir, None)
            rows.append({"scenario": name, "summary": summary([r["seconds"] for r in results]),
                         "severities": sorted({str(r["severity"]) for r in results}),
                         "could_not_run": max(r["could_not_run"] for r in results),
                         "total": results[-1]["total"], "requests": results[-1]["requests"],
                         "capped": any(r["capped"] for r in results),
                         "load": sorted(r["load"] for r in results)[len(results) // 2]})
    finally:
        stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    data = {"rows": rows, "runs": args.runs, "load_start": load_start,
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.write_text(render(data, machine()))
    log(f"wrote {args.out}")
    return 0


def render(data: dict[str, Any], box: dict[str, Any]) -> str:
    out = [
        "# Benchmarks: time to verdict with the provider checks (Supabase)",
        "",
        "Written by `python -m bench.provider`; measurements of one machine, not timed tests. `pytest -m emergency "
        "--target prod` on the demo stack's prod flavour, whose hosting provider is the Supabase stand-in "
        "(fixtures/demo/supabase_api.py); each figure is the median wall time of the whole command in a fresh "
        f"process (start-up included) over {data['runs']} runs, min–max in brackets. The hung Management API answers "
        "no /v1 request until released (its status page still answers); timeouts are the defaults (connect 3 s, "
        f"read 5 s) and the emergency budget {BUDGET_S:g} s.",
        "",
        f"Machine: {box['cpus']} cores ({box['cpu_model']}), {box['memory_gib']} GiB, {box['os']}, Python "
        f"{box['python']}; measured {data['measured_at']}; load average at the start {data['load_start']}.",
        "",
        "| scenario | verdict | wall time | checks | could not run | HTTP requests | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        s = row["summary"]
        capped = " (capped)" if row["capped"] else ""
        out.append(f"| {row['scenario']} | {', '.join(row['severities'])} | {s['median']:.2f} s "
                   f"({s['min']:.2f}–{s['max']:.2f} s){capped} | {row['total']} | {row['could_not_run']} | "
                   f"{row['requests']} | {row['load']:.1f} |")
    out += ["", "Under the hung Management API every provider check that asks it says \"could not run: the Supabase "
            "Management API did not answer\" and the rest of the run (database, site, logs) is judged as usual: the "
            "provider's requests start at the session's start, together, so the run waits one read timeout once."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
