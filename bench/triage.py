"""Time-to-verdict: `pytest -m emergency` on the demo stack, healthy and under each fault, beside the
playbook's own shell commands (curl -I, psql -c, tail | grep, ...) on the same stack.

The playbook's commands have no timeouts: each is capped here at CAP_S and reported as capped. They are
run one after another as an on-call engineer pastes them; under a fault that makes them hang (the app
or the database stops answering) they are started together instead, or the benchmark would wait the
cap once per command: their sum is still what pasting them one by one would cost.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .common import PY, ROOT, WORK, log, psql, quiet_machine, run_timed, summary

CAP_S = 120.0
SUITE_RUNS = 3
HEALTHY_RUNS = 5
HANGING = {"app_hanging", "db_hanging"}  # faults under which the playbook's commands never return

# (fault, parameters): the faults the emergency checks are about
FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("app_down", {}),
    ("app_hanging", {}),
    ("api_5xx", {}),
    ("slow_responses", {"seconds": 2.5}),
    ("db_stopped", {}),
    ("db_hanging", {}),
    ("source_stale", {"source": "meetup"}),
    ("all_sources_stale", {}),
    ("stuck_transaction", {}),
    ("blocking_lock", {}),
    ("connection_saturation", {}),
    ("log_error_burst", {}),
]

# The playbook's Initial Response and Investigation commands that exist here, with scenescout.app
# replaced by the stack's URL ($BASE) and $DATABASE_URL the stack's read-only DSN.
PLAYBOOK: list[tuple[str, str]] = [
    ("curl -I /health", 'curl -I "$BASE/health"'),
    ("curl -I /api/health", 'curl -I "$BASE/api/health"'),
    ("curl -I / (Scenario 1)", 'curl -I "$BASE/" || echo "SITE DOWN"'),
    ("psql SELECT 1", 'psql "$DATABASE_URL" -c "SELECT 1;" || echo "DATABASE DOWN"'),
    ("tail application.log | grep", "tail -100 logs/application.log | grep -i error"),
    ("tail ingestion.log | grep", "tail -100 logs/ingestion.log | grep -i error"),
    ("top", "top -b -n 1 | head -20"),
    ("free -h", "free -h"),
    ("df -h", "df -h"),
    ("ps aux | grep", 'ps aux | grep -E "(node|npm|supabase)"'),
    ("psql active connections", """psql "$DATABASE_URL" -c "
SELECT count(*) as active_connections, max(query_start) as longest_query_start
FROM pg_stat_activity WHERE state = 'active';\""""),
    ("psql ingestion status (GROUP BY)", """psql "$DATABASE_URL" -c "
SELECT source, MAX(created_at) as last_event_time,
  EXTRACT(EPOCH FROM (NOW() - MAX(created_at)))/60 as minutes_since_last
FROM events GROUP BY source;\""""),
    ("psql stuck transactions", """psql "$DATABASE_URL" -c "
SELECT pid, state, query_start, query FROM pg_stat_activity
WHERE state != 'idle' AND query_start < NOW() - INTERVAL '5 minutes';\""""),
    ("psql SHOW max_connections", 'psql "$DATABASE_URL" -c "SHOW max_connections;"'),
    ("psql count pg_stat_activity", 'psql "$DATABASE_URL" -c "SELECT count(*) FROM pg_stat_activity;"'),
    ("psql blocking queries (Scenario 4)", """psql "$DATABASE_URL" -c "
SELECT blocked_locks.pid AS blocked_pid, blocked_activity.usename AS blocked_user,
  blocking_locks.pid AS blocking_pid, blocking_activity.usename AS blocking_user,
  blocked_activity.query AS blocked_statement,
  blocking_activity.query AS current_statement_in_blocking_process
FROM pg_catalog.pg_locks blocked_locks
JOIN pg_catalog.pg_stat_activity blocked_activity ON blocked_activity.pid = blocked_locks.pid
JOIN pg_catalog.pg_locks blocking_locks ON blocking_locks.locktype = blocked_locks.locktype
JOIN pg_catalog.pg_stat_activity blocking_activity ON blocking_activity.pid = blocking_locks.pid
WHERE NOT blocked_locks.granted;\""""),
]
OMITTED = [
    "./scripts/app-health-check.mjs --emergency (no such script in this repository)",
    "ping -c 3 8.8.8.8 and nslookup scenescout.app (not installed here; no internet)",
    "supabase functions list / logs (not applicable to the demo)",
]


def targets_file(stack_dir: Path) -> Path:
    """The demo target with the test suite's short stuck/blocking limits (a fault injected a second ago
    is found) and host limits that a machine busy with benchmarks does not trip."""
    path = WORK / "targets.toml"
    path.write_text("\n".join([
        "[targets.demo]",
        f'stack = "{stack_dir}"',
        'logs = ["logs/application.log", "logs/ingestion.log"]',
        "[targets.demo.sources]",
        *(f'{s} = {{ max_age = "10m" }}' for s in ("ticketmaster", "eventbrite", "songkick", "meetup")),
        "[targets.demo.thresholds]",
        "stuck_transaction_s = 1", "blocking_wait_s = 1",
        "load_per_core = 1000", "disk_used_pct = 99.9", "memory_used_pct = 99.9",
    ]) + "\n")
    return path


def suite_run(targets: Path, *extra: str) -> dict[str, Any]:
    verdict_file = WORK / "verdict.json"
    verdict_file.unlink(missing_ok=True)
    timed = run_timed([PY, "-m", "pytest", "-m", "emergency", "-q", "-p", "no:cacheprovider",
                       f"--targets-file={targets}", f"--verdict-file={verdict_file}", *extra], cap_s=CAP_S)
    verdict = json.loads(verdict_file.read_text()) if verdict_file.exists() else {}
    return {"seconds": timed.seconds, "capped": timed.capped, "severity": verdict.get("severity"),
            "max_rss_kb": timed.max_rss_kb, "verdict_duration_s": verdict.get("duration_s"),
            "footprint": verdict.get("footprint"), "counts": verdict.get("counts"),
            "findings": sorted({f["check"] for f in verdict.get("findings", [])})}


def playbook_run(stack: Any, parallel: bool) -> dict[str, Any]:
    info = stack.info()
    env = {"BASE": info.base_url, "DATABASE_URL": info.dsn, "TERM": "dumb",
           "PATH": f"{Path(psql()).parent}:/usr/bin:/bin"}

    def one(item: tuple[str, str]) -> dict[str, Any]:
        name, command = item
        timed = run_timed([command], shell=True, cwd=info.state_dir, env=env, cap_s=CAP_S)
        return {"command": name, "seconds": timed.seconds, "capped": timed.capped}

    start = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(len(PLAYBOOK)) as pool:
            commands = list(pool.map(one, PLAYBOOK))
    else:
        commands = [one(item) for item in PLAYBOOK]
    wall = time.perf_counter() - start
    return {"commands": commands, "sequential_s": round(sum(c["seconds"] for c in commands), 3),
            "wall_s": round(wall, 3), "parallel": parallel, "capped": [c["command"] for c in commands if c["capped"]]}


def settle(stack: Any, fault: str) -> None:
    """Faults judged by age: wait until they are older than the suite's 1 s limit (a condition)."""
    queries = {
        "stuck_transaction": "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
                             " AND now() - state_change > interval '1.5 s'",
        "blocking_lock": "SELECT count(*) FROM pg_locks WHERE NOT granted AND now() - waitstart > interval '1.5 s'",
    }
    if fault in queries:
        deadline = time.monotonic() + 15
        while stack.sql(queries[fault])[0][0] == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{fault} did not age past 1.5 s")
            time.sleep(0.1)


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def run(stack: Any) -> dict[str, Any]:
    targets = targets_file(stack.info().state_dir)
    load_start = quiet_machine()
    log("time-to-verdict: warming up (one run, not counted)")
    suite_run(targets)
    scenarios = []
    for fault, params in [("healthy", {}), *FAULTS]:
        if fault != "healthy":
            stack.inject(fault, **params)
            settle(stack, fault)
        runs = [suite_run(targets) for _ in range(HEALTHY_RUNS if fault == "healthy" else SUITE_RUNS)]
        playbook = playbook_run(stack, parallel=fault in HANGING)
        stack.clear()
        seconds = [r["seconds"] for r in runs]
        scenario = {
            "fault": fault, "params": params, "suite": summary(seconds), "severity": runs[-1]["severity"],
            "findings": runs[-1]["findings"], "verdict_duration_s": runs[-1]["verdict_duration_s"],
            "max_rss_kb": max(r["max_rss_kb"] for r in runs), "playbook": playbook,
        }
        capped = f" (capped: {', '.join(playbook['capped'])})" if playbook["capped"] else ""
        log(f"  {fault}: suite {scenario['suite']['median']:.2f} s ({scenario['severity']}), playbook "
            f"{playbook['sequential_s']:.2f} s{capped}")
        scenarios.append(scenario)
    return {"cap_s": CAP_S, "suite_runs": SUITE_RUNS, "healthy_runs": HEALTHY_RUNS, "scenarios": scenarios,
            "load": {"start": load_start, "end": _load()},
            "playbook_commands": [name for name, _ in PLAYBOOK], "omitted": OMITTED, "root": str(ROOT)}
