"""The host probe (top, free -h, ps aux --sort=-%mem) on this machine's real process table."""

import os

import psutil

from scenescout_ir.probes import host as host_probe


def test_memory_and_load_name_the_top_processes_from_one_walk_of_the_process_table(monkeypatch):
    walks = []
    real = psutil.process_iter

    def counted(*args, **kwargs):
        walks.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(host_probe.psutil, "process_iter", counted)
    seen = []
    probe = host_probe.Host(seen.append)
    memory, load = probe.memory(), probe.load()
    assert len(walks) == 1  # the two checks, run back to back, share the walk
    assert len(memory.top) == len(load.top) == 8
    assert [m[2] for m in memory.top] == sorted((m[2] for m in memory.top), reverse=True)
    assert [c[2] for c in load.top] == sorted((c[2] for c in load.top), reverse=True)
    mine = psutil.Process(os.getpid())
    assert memory.top[-1][2] <= 100.0 and load.top[0][2] >= sum(mine.cpu_times()[:2]) - 0.5  # real figures
    assert "top processes by memory" in seen[0].text and "top processes by CPU time" in seen[1].text


def test_a_later_check_walks_the_table_again(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(host_probe.time, "monotonic", lambda: clock[0])
    walks = []
    real = psutil.process_iter
    monkeypatch.setattr(host_probe.psutil, "process_iter", lambda *a, **k: (walks.append(a), real(*a, **k))[1])
    probe = host_probe.Host(lambda e: None)
    probe.memory()
    clock[0] += host_probe._PROCESSES_FRESH_S + 1
    probe.load()
    assert len(walks) == 2
