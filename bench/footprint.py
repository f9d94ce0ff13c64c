"""The suite's own footprint during one `pytest -m emergency` run on the healthy demo stack: the pytest
process' peak memory, and the connections, statements and requests it made on the target, as the
verdict counts them and as the target saw them (PostgreSQL's log_connections, pg_stat_statements, the
app's access log). Serial and with xdist (-n 2)."""

from __future__ import annotations

import json
import re
from typing import Any

from .common import PY, WORK, log, run_timed
from .triage import targets_file

CALLS = "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE userid = 'oncall'::regrole"


def _lines(path: Any) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0


def one_run(stack: Any, *extra: str) -> dict[str, Any]:
    info = stack.info()
    server_log = info.state_dir / "run" / "postgres.log"
    targets = targets_file(info.state_dir)
    verdict_file = WORK / "footprint-verdict.json"
    log_before = server_log.read_text(errors="replace").count("\n")
    app_before = _lines(info.app_log)
    calls_before = stack.sql(CALLS)[0][0]
    timed = run_timed([PY, "-m", "pytest", "-m", "emergency", "-q", "-p", "no:cacheprovider",
                       f"--targets-file={targets}", f"--verdict-file={verdict_file}", *extra], cap_s=120)
    new_log = server_log.read_text(errors="replace").splitlines()[log_before:]
    authorized = [line for line in new_log if re.search(r"connection authorized: user=oncall\b", line)]
    calls = stack.sql(CALLS)[0][0] - calls_before
    verdict = json.loads(verdict_file.read_text())
    return {
        "args": " ".join(extra) or "(serial)", "seconds": timed.seconds, "severity": verdict["severity"],
        "peak_rss_mib": round(timed.max_rss_kb / 1024, 1), "footprint": verdict["footprint"],
        "server_connections": len(authorized), "server_statements": int(calls),
        "app_requests": _lines(info.app_log) - app_before,
    }


def run(stack: Any) -> dict[str, Any]:
    stack.sql("ALTER SYSTEM SET log_connections = on")
    stack.sql("SELECT pg_reload_conf()")
    try:
        log("footprint: one emergency run, serial and with -n 2")
        runs = [one_run(stack), one_run(stack, "-n", "2")]
    finally:
        stack.sql("ALTER SYSTEM RESET log_connections")
        stack.sql("SELECT pg_reload_conf()")
    return {"runs": runs}
