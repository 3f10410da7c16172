"""A stack's limits reach the kernel's cgroup files (v1 here, v2 in the VM tier), pause
and stats work through them, and `down` leaves no cgroup behind."""

import pytest

from stackup.engine.runtime import cgroups

pytestmark = pytest.mark.root


def cat(stack, *paths: str) -> list[str]:
    return stack("exec", "app", "cat", *paths).stdout.split()


def test_limits_pause_stats_and_down(stack):
    stack("up", "-d")
    if cgroups.is_v2():
        assert cat(stack, "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max",
                   "/sys/fs/cgroup/cpu.max") == [str(48 << 20), "20", "50000", "100000"]
    else:
        assert cat(stack, "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                   "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                   "/sys/fs/cgroup/cpu/cpu.shares") == [str(48 << 20), "20", "50000", "512"]
    stack("pause", "app")
    assert stack.ps()[0]["State"] == "paused"
    stack("unpause", "app")
    assert stack.ps()[0]["State"] == "running"
    stats = stack("stats", "--no-stream").stdout
    assert "e2e-cglimits-app-1" in stats and "/ 48MiB" in stats, stats
    stack("down")
    assert stack.wait_gone() == []
