"""Investigation Phase: `top -n 1`, `free -h`, `df -h` on the machine the suite runs on."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.emergency


@pytest.mark.playbook("df -h")
@pytest.mark.condition("disk_space")
def test_disk_space(host, target):
    """df -h"""
    limit = target.thresholds.disk_used_pct
    full = [d for d in host.disks([*target.logs, Path("/")]) if d.used_pct >= limit]
    assert not full, "; ".join(
        f"{d.mountpoint} is {d.used_pct:.0f}% full, {d.free_bytes / 2**30:.1f} GiB free (limit: {limit:g}%)"
        for d in full
    )


@pytest.mark.playbook("free -h", "ps aux --sort=-%mem | head -10")
@pytest.mark.condition("memory")
def test_memory(host, target):
    """free -h ; ps aux --sort=-%mem | head -10"""
    mem = host.memory()
    limit = target.thresholds.memory_used_pct
    hogs = ", ".join(f"{name} ({pct:.0f}%)" for _, name, pct in mem.top[:3])
    assert mem.used_pct < limit, f"memory {mem.used_pct:.0f}% used (limit: {limit:g}%); largest: {hogs}"


@pytest.mark.playbook("top -n 1 | head -20")
@pytest.mark.condition("host_load")
def test_load(host, target):
    """top -n 1 | head -20"""
    load = host.load()
    limit = target.thresholds.load_per_core
    assert load.per_core < limit, (
        f"load {load.load_5m:.1f} over 5 min on {load.cores} cores = {load.per_core:.1f} per core (limit: {limit:g})"
    )
