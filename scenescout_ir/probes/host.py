"""Resources of the machine the suite runs on (top, free -h, df -h, ps aux --sort=-%mem), via psutil."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from scenescout_ir.core.evidence import Evidence


@dataclass(frozen=True)
class DiskUsage:
    mountpoint: str
    used_pct: float
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class MemoryUsage:
    used_pct: float
    available_bytes: int
    total_bytes: int
    top: list[tuple[int, str, float]]  # pid, name, %mem


@dataclass(frozen=True)
class Load:
    load_5m: float
    cores: int
    top: list[tuple[int, str, float]]  # pid, name, CPU seconds used so far

    @property
    def per_core(self) -> float:
        return self.load_5m / self.cores


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


# the memory and the load check each name the top processes: one walk of the process table serves both when
# they run within this many seconds of each other
_PROCESSES_FRESH_S = 2.0


class Host:
    def __init__(self, record: Callable[[Evidence], None]) -> None:
        self._record = record
        self._processes: tuple[float, list[_Process]] | None = None

    def _top(self, what: str, n: int = 8) -> list[tuple[int, str, float]]:
        """The ``n`` processes using most ``cpu`` (seconds so far) or ``memory`` (% of it)."""
        if self._processes is None or time.monotonic() - self._processes[0] > _PROCESSES_FRESH_S:
            self._processes = (time.monotonic(), _processes())
        rows = [(p.pid, p.name, amount) for p in self._processes[1]
                if (amount := p.cpu_s if what == "cpu" else p.memory_pct) is not None]
        return sorted(rows, key=lambda r: r[2], reverse=True)[:n]

    def disks(self, paths: Iterable[Path]) -> list[DiskUsage]:
        """df -h for the filesystems holding these paths (the nearest existing parent of each)."""
        seen: dict[str, DiskUsage] = {}
        for path in paths:
            existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
            usage = psutil.disk_usage(str(existing))
            mount = _mountpoint(existing)
            seen.setdefault(mount, DiskUsage(mount, usage.percent, usage.free, usage.total))
        disks = list(seen.values())
        text = "\n".join(f"{d.mountpoint}: {d.used_pct:.1f}% used, {_gib(d.free_bytes)} free of "
                         f"{_gib(d.total_bytes)}" for d in disks)
        self._record(Evidence("host", "disk usage (df -h)", text))
        return disks

    def memory(self) -> MemoryUsage:
        mem = psutil.virtual_memory()
        top = self._top("memory")
        usage = MemoryUsage(mem.percent, mem.available, mem.total, top)
        text = (f"{mem.percent:.1f}% used, {_gib(mem.available)} available of {_gib(mem.total)}\n"
                "top processes by memory:\n" + "\n".join(f"  {pid:>7} {name:<24} {pct:5.1f}%"
                                                         for pid, name, pct in top))
        self._record(Evidence("host", "memory (free -h, ps aux --sort=-%mem)", text))
        return usage

    def load(self) -> Load:
        cores = psutil.cpu_count() or 1
        load = Load(os.getloadavg()[1], cores, self._top("cpu"))
        text = (f"load average (5 min) {load.load_5m:.2f} on {cores} cores = {load.per_core:.2f} per core\n"
                "top processes by CPU time:\n" + "\n".join(f"  {pid:>7} {name:<24} {pct:8.1f} s"
                                                      for pid, name, pct in load.top))
        self._record(Evidence("host", "load (top)", text))
        return load


def _mountpoint(path: Path) -> str:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return str(path)


@dataclass(frozen=True)
class _Process:
    pid: int
    name: str
    cpu_s: float | None  # None: not this user's to see
    memory_pct: float | None


def _processes() -> list[_Process]:
    """Every process this user may see, with its CPU seconds used so far and its share of memory."""
    rows = []
    for proc in psutil.process_iter(["pid", "name", "cpu_times", "memory_percent"]):
        cpu, memory = proc.info.get("cpu_times"), proc.info.get("memory_percent")
        rows.append(_Process(int(proc.info["pid"]), str(proc.info["name"] or "?"),
                             None if cpu is None else cpu.user + cpu.system, None if memory is None else float(memory)))
    return rows
