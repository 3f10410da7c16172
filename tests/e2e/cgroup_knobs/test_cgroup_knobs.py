"""The cgroup knobs, read from inside the containers (cgroup v1 hierarchies, as this
machine has them; v2 is covered by tests/unit/runtime/test_cgknobs.py)."""

import os

import pytest

from stackup.engine.runtime import cgroups

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(cgroups.is_v2(), reason="reads the v1 hierarchies"),
              pytest.mark.skipif(not os.path.exists("/dev/vda"), reason="the rates name /dev/vda")]


def read(stack, service, path):
    return stack("exec", service, "cat", path).stdout.strip()


def test_knobs_show_in_the_containers_cgroup_files(stack):
    stack("up", "-d")
    cg = "/sys/fs/cgroup"
    assert read(stack, "knobs", f"{cg}/cpu/cpu.cfs_period_us") == "50000"
    assert read(stack, "knobs", f"{cg}/cpu/cpu.cfs_quota_us") == "25000"
    assert read(stack, "knobs", f"{cg}/cpu/cpu.rt_period_us") == "1000000"
    assert read(stack, "knobs", f"{cg}/cpu/cpu.rt_runtime_us") == "1000"
    assert read(stack, "knobs", f"{cg}/cpuset/cpuset.cpus") == "0"
    assert read(stack, "knobs", f"{cg}/memory/memory.soft_limit_in_bytes") == str(16 << 20)
    assert read(stack, "knobs", f"{cg}/memory/memory.swappiness") == "10"
    assert "oom_kill_disable 1" in read(stack, "knobs", f"{cg}/memory/memory.oom_control")
    major, minor = os.major(os.stat("/dev/vda").st_rdev), os.minor(os.stat("/dev/vda").st_rdev)
    assert read(stack, "knobs", f"{cg}/blkio/blkio.throttle.read_bps_device") == f"{major}:{minor} 1048576"
    assert read(stack, "knobs", f"{cg}/blkio/blkio.throttle.write_iops_device") == f"{major}:{minor} 30"
    # PID 1 and what exec starts inherit oom_score_adj
    assert read(stack, "knobs", "/proc/1/oom_score_adj") == "321"
    # cpu_count: a quota of that many CPUs; the reservation of deploy.resources
    assert read(stack, "limited", f"{cg}/cpu/cpu.cfs_quota_us") == "100000"
    assert read(stack, "limited", f"{cg}/memory/memory.soft_limit_in_bytes") == str(8 << 20)
    assert read(stack, "limited", f"{cg}/memory/memory.limit_in_bytes") == str(32 << 20)
    # a container without cpuset still runs on every CPU its parent has
    assert read(stack, "limited", f"{cg}/cpuset/cpuset.cpus") == open(f"{cg}/cpuset/cpuset.cpus").read().strip()
    stack("down")
    assert stack.wait_gone() == []
