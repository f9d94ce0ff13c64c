"""The error rate of the last 15 minutes of a 200 MB and a 2 GB log file: the suite's reader seeks from
the end, so its cost is the window, not the file. Beside it, the playbook's `tail -100 | grep -i error`
(fast, but 100 lines are not a time window) and `grep -ci error` over the whole file (what any reading
from the start costs). The files are generated from a repeated block and deleted afterwards.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from scenescout_ir.probes.logs import LogReader

from .common import WORK, log, quiet_machine, run_timed, summary

SIZES_MB = (200, 2048)
RUNS = 21
WINDOW_S = 900.0
MAX_BYTES = 8 * 1024 * 1024  # the suite's default log_max_bytes
RECENT_LINES = 3000  # in the last 14 minutes; one in 50 is an error


def pino(at: float, level: int, i: int) -> str:
    status = 500 if level == 50 else 200
    return json.dumps({
        "level": level, "time": int(at * 1000), "pid": 4242, "hostname": "web-1",
        "req": {"method": "GET", "url": f"/api/events?limit=24&page={i % 50}"}, "res": {"statusCode": status},
        "responseTime": 12 + i % 40, "msg": f"GET /api/events {status}",
    }, separators=(",", ":"))


def make_file(path: Path, size_mb: int, now: float) -> int:
    """Old lines (two days ago) up to size_mb, then RECENT_LINES inside the window; returns the size."""
    old_lines = []
    block_size = 0
    i = 0
    while block_size < 1024 * 1024:  # a 1 MiB block of old lines, 2 % errors, written over and over
        line = pino(now - 2 * 86400 + i, 50 if i % 50 == 0 else 30, i) + "\n"
        old_lines.append(line)
        block_size += len(line)
        i += 1
    block = "".join(old_lines).encode()
    recent = "".join(
        pino(now - 840 + 840 * k / RECENT_LINES, 50 if k % 50 == 0 else 30, k) + "\n" for k in range(RECENT_LINES)
    ).encode()
    with path.open("wb") as fh:
        for _ in range(size_mb):
            fh.write(block)
        fh.write(recent)
        fh.flush()
        os.fsync(fh.fileno())  # written back before timing: the disk is not busy flushing 2 GB meanwhile
    return path.stat().st_size


def run() -> dict[str, Any]:
    load = quiet_machine()
    WORK.mkdir(parents=True, exist_ok=True)
    reader = LogReader(lambda evidence: None)
    sizes: list[dict[str, Any]] = []
    for size_mb in SIZES_MB:
        path = WORK / f"application-{size_mb}mb.log"
        try:
            now = time.time()
            t = time.perf_counter()
            size = make_file(path, size_mb, now)
            write_s = time.perf_counter() - t
            log(f"logs: {size / 1024**2:,.0f} MiB written in {write_s:.1f} s")
            scans, last = [], None
            for _ in range(RUNS):
                t = time.perf_counter()
                last = reader.scan(path, WINDOW_S, MAX_BYTES, now=now)
                scans.append(time.perf_counter() - t)
            assert last is not None
            tail = [run_timed([f"tail -100 {path} | grep -i error"], shell=True).seconds for _ in range(RUNS)]
            whole = run_timed([f"grep -ci error {path}"], shell=True, cap_s=300)
            sizes.append({
                "size_bytes": size, "write_s": round(write_s, 1), "suite": summary(scans),
                "bytes_read": last.bytes_read, "lines_in_window": last.lines, "errors": last.error_count,
                "truncated": last.truncated, "tail_grep": summary(tail), "grep_whole_file_s": whole.seconds,
            })
        finally:
            path.unlink(missing_ok=True)
    first, last_size = sizes[0]["suite"]["median"], sizes[-1]["suite"]["median"]
    return {"window_s": WINDOW_S, "max_bytes": MAX_BYTES, "runs": RUNS, "recent_lines": RECENT_LINES,
            "sizes": sizes, "growth": round(last_size / first, 2), "load": load}
