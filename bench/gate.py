"""Many targets in one run: 1, 4 and 8 demo targets (each its own demo stack) in one `pytest -m emergency`
run: wall time and peak memory of the whole run (the run and every target's run under it, summed). Writes
docs/benchmarks-gate.md.

    python -m bench.gate [--runs 3] [--targets 1,4,8] [--spawned 8] [--out docs/benchmarks-gate.md]

One target is the ordinary single run (`--target t1`); more are `--target t1 --target t2 ...` (one run per
target, at once, each forked from the run, then the merge). `--spawned N`: N targets also with the fallback,
a child `pytest` process per target ($SCENESCOUT_GATE_FORK=0), for comparison. Goal: 8 targets within 1.5x the
wall time of one. The demo stacks are started (and their ingestion loops settled) before any timing; the CPU
their own long-lived processes use during each run is reported apart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from .common import PY, ROOT, WORK, log, machine


def targets_file(stacks: list[Any]) -> Path:
    lines = []
    for i, stack in enumerate(stacks, 1):
        name = f"t{i}"
        lines += [f"[targets.{name}]", f'stack = "{stack.info().state_dir}"',
                  'logs = ["logs/application.log", "logs/ingestion.log"]', f"[targets.{name}.sources]",
                  *(f'{s} = {{ max_age = "10m" }}' for s in ("ticketmaster", "eventbrite", "songkick", "meetup")),
                  f"[targets.{name}.thresholds]", "stuck_transaction_s = 1", "blocking_wait_s = 1",
                  "load_per_core = 1000", "disk_used_pct = 99.9", "memory_used_pct = 99.9"]
    path = WORK / "gate-targets.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def stacks_cpu(stacks: list[Any]) -> float:
    """CPU seconds used so far by the demo stacks' long-lived processes (PostgreSQL and its children, the proxy,
    the app, the ingestion loop)."""
    total = 0.0
    for stack in stacks:
        for pid in (stack._read_state() or {}).get("pids", {}).values():
            with contextlib.suppress(psutil.Error, TypeError):
                root = psutil.Process(pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        times = p.cpu_times()
                        total += times.user + times.system
    return total


def one_run(targets: Path, n: int, stacks: list[Any], spawned: bool = False) -> dict[str, Any]:
    """The whole command, timed from fork to exit, its process tree's resident memory sampled every 20 ms."""
    reports = WORK / f"gate-{n}"
    shutil.rmtree(reports, ignore_errors=True)
    names = [a for i in range(1, n + 1) for a in ("--target", f"t{i}")]
    env = {**os.environ, "SCENESCOUT_INCIDENTS_DIR": str(WORK / "incidents"), "SCENESCOUT_SLACK_WEBHOOK": "",
           "SCENESCOUT_GATE_FORK": "0" if spawned else "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as `make bench` runs it: compiled once, not in every process
    stacks_before = stacks_cpu(stacks)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "pytest", "-m", "emergency", "-q", "-p", "no:cacheprovider",
                             f"--targets-file={targets}", f"--verdict-file={reports / 'verdict.json'}", *names],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                rss = 0
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines: list[str] = []
    forked = None  # when the run says its targets' runs have all started: its start-up, before any of them
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace")
        if forked is None and line.startswith("checking "):
            forked = time.perf_counter() - start
        lines.append(line)
    proc.wait(timeout=300)
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run and every target's run, once reaped
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    done.set()
    sampler.join()
    stacks_used = stacks_cpu(stacks) - stacks_before
    verdict = json.loads((reports / "verdict.json").read_text())
    label = verdict["severity"]
    return {"targets": n, "mode": "spawned" if spawned else "forked", "seconds": round(seconds, 3),
            "cpu_s": round(cpu, 2), "stacks_cpu_s": round(stacks_used, 2),
            "peak_mib": round(peak[0] / 2**20, 1), "verdict": label,
            "forked_s": round(forked, 3) if forked is not None else None,
            "exit": proc.returncode, "tail": "".join(lines).strip().splitlines()[-1]}


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    rows = data["rows"]
    base = statistics.median(r["seconds"] for r in rows if r["targets"] == 1)
    out = [
        "# Benchmark: many targets in one run",
        "",
        "Generated by `python -m bench.gate` (bench/gate.py); not a test. Each target is its own demo stack "
        "(PostgreSQL, the proxy, the app, the ingestion loop writing a round a second), all healthy, all started "
        "before any timing; the run is `pytest -m emergency` with one `--target` per target, timed from the fork "
        "to the exit (start-up, every target's run, the merge). *forked*: each target's run a fork of the run "
        "(the default); *child processes*: the fallback, a `pytest` process per target "
        "(`SCENESCOUT_GATE_FORK=0`, as with `-n`). CPU time: the run and every target's run (user + system), "
        "which the machine's load does not change much; the demo stacks' own long-lived processes used the "
        "CPU in the last column meanwhile, on the same cores. Peak memory: the resident memory of the run's "
        "whole process tree, sampled every 20 ms, summed (forked runs share their pages with the run until "
        "they write them, so this sum overstates what they take).",
        "",
        f"Measured {data['measured_at']} on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"{m['os']}, Python {m['python']}; machine load (1 min) before: {data['load_before']:.1f}, "
        f"after: {data['load_after']:.1f} (it counts the demo stacks and these runs themselves).",
        "",
        "| targets | runs | wall time (median) | min - max | vs one target | CPU time of the run (median) "
        "| CPU per target | peak memory (median) | demo stacks' CPU meanwhile | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, mode in sorted({(r["targets"], r.get("mode", "forked")) for r in rows}, key=lambda k: (k[1], k[0])):
        mine = [r for r in rows if r["targets"] == n and r.get("mode", "forked") == mode]
        secs = [r["seconds"] for r in mine]
        med = statistics.median(secs)
        cpu = statistics.median(r["cpu_s"] for r in mine)
        label = "one run" if n == 1 else {"forked": "forked", "spawned": "child processes"}[mode]
        out.append(f"| {n} | {label} | {med:.2f} s | {min(secs):.2f} - {max(secs):.2f} s ({len(secs)} runs) | "
                   f"{med / base:.2f}x | {cpu:.2f} s | {cpu / n:.2f} s | "
                   f"{statistics.median(r['peak_mib'] for r in mine):.0f} MiB | "
                   f"{statistics.median(r.get('stacks_cpu_s', 0.0) for r in mine):.2f} s | "
                   f"{', '.join(sorted({r['verdict'] for r in mine}))} |")
    eight = [r for r in rows if r["targets"] == 8 and r.get("mode", "forked") == "forked"]
    ones = [r for r in rows if r["targets"] == 1]
    if eight:
        ratio = statistics.median(r["seconds"] for r in eight) / base
        out += ["", f"Goal: 8 targets within 1.5x the wall time of one: **{'met' if ratio <= 1.5 else 'NOT met'}** "
                    f"({ratio:.2f}x)."]
        started = [r["forked_s"] for r in eight if r.get("forked_s")]
        if started and ones:
            out += ["", floor(base, statistics.median(started), statistics.median(r["cpu_s"] for r in ones),
                              statistics.median(r["cpu_s"] for r in eight),
                              statistics.median(r.get("stacks_cpu_s", 0.0) for r in eight), m["cpus"])]
    out += ["", "Why: " + data["note"], ""]
    return "\n".join(out)


def floor(one: float, started: float, cpu_one: float, cpu_eight: float, stacks: float, cpus: int) -> str:
    """The arithmetic of the goal on this machine, from the medians measured."""
    per_target = (cpu_eight - cpu_one) / 7
    room = 1.5 * one - started  # the wall time left for the 8 targets' runs once the run has started them
    budget = (room * cpus - stacks) / 8
    return (f"The arithmetic, from these medians: the 8-target run had started its targets' runs {started:.2f} s "
            f"after it began (its start-up: the interpreter, pytest, the plugins and what the forks share, paid "
            f"once). 1.5x of one target ({one:.2f} s) leaves {room:.2f} s for 8 targets' runs, {room * cpus:.2f} s "
            f"of CPU on {cpus} cores, of which the demo stacks themselves took {stacks:.2f} s (answering the checks, "
            f"and their ingestion loops writing a round a second): {max(budget, 0):.2f} s of CPU per target's run "
            f"at most. Each target after the first cost "
            f"{per_target:.2f} s of CPU (8 targets {cpu_eight:.2f} s, one {cpu_one:.2f} s).")


NOTE = (
    "each target's run is a fork of the run (scenescout_ir/pytest_plugin/gate.py): the interpreter, pytest, the "
    "plugins, Playwright's package, psycopg, the probes, the judge and the suite's own plugin parts (imported "
    "through the run's assertion rewriter) are imported once, before the forks, and frozen there, so a target "
    "costs what its own run costs: pytest's configuration of it (its plugins registered again), its collection, "
    "its 29 checks with their probes, and its evidence (every Allure result and attachment redacted and written, "
    "the verdict, the kept run). A child pytest process per target (the fallback, used with `-n` or "
    "`SCENESCOUT_GATE_FORK=0`) pays the start-up again in each (the last row). On 2 cores the targets' runs and "
    "the demo stacks answering them share the CPU, so the wall time of many targets is their CPU over the cores: "
    "the arithmetic above. A single run also got faster this stop (it no longer walks its whole heap in "
    "pytest's last collections and the interpreter's at exit), which is the larger share of one target's time "
    "and a small share of a forked target's (the forks' shared heap was already frozen, and they end with "
    "os._exit), so it lowered one target's wall time more than 8 targets'. The same code's figures climb as the demo "
    "stacks run on (their tables and logs grow). Memory: the summed resident memory counts the pages each fork "
    "shares with the run once per fork, so it overstates the 8 forked runs and the difference to child "
    "processes understates what forking saves."
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", default="1,4,8")
    parser.add_argument("--spawned", default="8", help="target counts also run as child processes ('' for none)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-gate.md")
    args = parser.parse_args()
    counts = [int(n) for n in args.targets.split(",")]
    spawned = [int(n) for n in args.spawned.split(",") if n]
    from fixtures.demo import DemoStack

    WORK.mkdir(parents=True, exist_ok=True)
    stacks = []
    try:
        for i in range(max(counts + spawned)):
            stack = DemoStack(WORK / f"gate-stack-{i + 1}")
            log(f"starting demo stack {i + 1} of {max(counts + spawned)}")
            stack.start()
            stacks.append(stack)
        targets = targets_file(stacks)
        load_before = os.getloadavg()[0]
        rows = []
        for _ in range(args.runs):
            for n, spawn in [(n, False) for n in counts] + [(n, True) for n in spawned]:
                row = one_run(targets, n, stacks, spawned=spawn)
                log(f"{n} targets ({row['mode']}): {row['seconds']:.2f} s, CPU {row['cpu_s']} s, "
                    f"stacks {row['stacks_cpu_s']} s, {row['peak_mib']} MiB, {row['verdict']}")
                rows.append(row)
        data = {"machine": machine(), "rows": rows, "load_before": load_before, "load_after": os.getloadavg()[0],
                "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "note": NOTE}
    finally:
        for stack in stacks:
            stack.stop()
            shutil.rmtree(stack.state_dir, ignore_errors=True)
    args.out.write_text(render(data))
    (WORK / "gate.json").write_text(json.dumps(data, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
