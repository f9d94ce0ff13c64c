"""Resources of the machine the suite runs on (top, free -h, df -h, ps aux --sort=-%mem), via psutil."""

from __future__ import annotations

import os
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


class Host:
    def __init__(self, record: Callable[[Evidence], None]) -> None:
        self._record = record

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
        top = _top("memory_percent")
        usage = MemoryUsage(mem.percent, mem.available, mem.total, top)
        text = (f"{mem.percent:.1f}% used, {_gib(mem.available)} available of {_gib(mem.total)}\n"
                "top processes by memory:\n" + "\n".join(f"  {pid:>7} {name:<24} {pct:5.1f}%"
                                                         for pid, name, pct in top))
        self._record(Evidence("host", "memory (free -h, ps aux --sort=-%mem)", text))
        return usage

    def load(self) -> Load:
        cores = psutil.cpu_count() or 1
        load = Load(os.getloadavg()[1], cores, _top("cpu_times"))
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


def _top(attr: str, n: int = 8) -> list[tuple[int, str, float]]:
    rows = []
    for proc in psutil.process_iter(["pid", "name", attr]):
        value = proc.info.get(attr)
        if value is not None:
            amount = value.user + value.system if attr == "cpu_times" else float(value)
            rows.append((proc.info["pid"], proc.info["name"] or "?", amount))
    return sorted(rows, key=lambda r: r[2], reverse=True)[:n]
