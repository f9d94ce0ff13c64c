"""What the benchmarks share: where they work, how a command is timed (with a cap), the machine."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".tmp" / "bench"  # git-ignored; every benchmark cleans up what it made here
PY = sys.executable
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def psql() -> str:
    """Debian's psql 15 if present, else whatever is on the PATH."""
    candidate = PG_BIN / "psql"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("psql")
    if not found:
        raise SystemExit("psql is neither in /usr/lib/postgresql/15/bin nor on the PATH")
    return found


@dataclass(frozen=True)
class Timed:
    seconds: float
    exit_code: int | None  # None: killed at the cap
    capped: bool
    max_rss_kb: int
    output: str  # the last lines

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_timed(argv: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None, cap_s: float = 120.0,
              shell: bool = False) -> Timed:
    """Run a command to its end or to the cap (its whole process group is killed then); wall time from
    the fork to the reap, and the peak resident memory of that process (os.wait4's rusage)."""
    WORK.mkdir(parents=True, exist_ok=True)
    out_path = WORK / f"out-{os.getpid()}-{threading.get_ident()}.txt"
    with out_path.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            # bytecode cached, as `make demo` runs the suite (PYTHONDONTWRITEBYTECODE would add ~1 s of compiling)
            ["bash", "-c", argv[0]] if shell else argv, cwd=cwd,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "", **(env or {})},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        capped = threading.Event()

        def kill() -> None:
            capped.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(cap_s, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if capped.is_set():  # whatever the pipeline left behind goes with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    output = out_path.read_text(errors="replace")
    out_path.unlink()
    tail = "\n".join(output.strip().splitlines()[-15:])
    return Timed(round(seconds, 4), None if capped.is_set() else proc.returncode, capped.is_set(),
                 int(usage.ru_maxrss), tail)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 6), "min": round(min(values), 6),
            "max": round(max(values), 6), "runs": len(values)}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass

    def version(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "not found"

    packages = {}
    for name in ("pytest", "pytest-xdist", "psycopg", "requests", "playwright"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    disk = shutil.disk_usage(ROOT)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": version([str(PG_BIN / "postgres"), "--version"]),
        "psql": version([psql(), "--version"]),
        "curl": version(["curl", "--version"]),
        "packages": packages,
        "disk_free_gib": round(disk.free / 1024**3, 1),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


class Results:
    """The figures of every benchmark, kept in .tmp/bench/results.json so the document can be rendered
    from a partial run (`python -m bench --only logs`) with the other sections as last measured."""

    def __init__(self, path: Path = WORK / "results.json") -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=2, default=str) + "\n")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def quiet_machine(max_wait_s: float = 300.0) -> str:
    """Wait (bounded) until the 1-minute load average is under the number of cores, so a benchmark does not
    time other people's work; returns the load averages it started with, for the report."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait_s
    if os.getloadavg()[0] >= cores:
        log(f"waiting up to {max_wait_s:g} s for the load average ({os.getloadavg()[0]:.1f}) to drop under {cores}")
    while os.getloadavg()[0] >= cores and time.monotonic() < deadline:
        time.sleep(5)
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())
