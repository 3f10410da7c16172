"""The cgroup knobs as v1 and v2 file writes, and their application to a cgroup tree
(a fake v2 tree in tmp_path: this machine runs v1)."""

import os

import pytest

from stackup.engine.runtime import cgknobs, cgpaths, cgroups
from stackup.engine.runtime.cgknobs import Knobs
from stackup.engine.runtime.spec import ContainerSpec, validate
from stackup.errors import UnsupportedError, UserError

FULL = Knobs(cpu_period=50000, cpu_quota=25000, cpuset_cpus="0-1", cpuset_mems="0", blkio_weight=300,
             blkio_weight_device=[["/dev/vda", 400]], device_read_bps=[["/dev/vda", 1048576]],
             device_write_iops=[["/dev/vda", 30]], memory_reservation=10 << 20, memory_swappiness=10,
             oom_kill_disable=True)


def dev(path):
    return {"/dev/vda": "254:0"}[path]


def test_v1_writes_each_knob_to_its_controller():
    assert cgknobs.writes(FULL, v2=False, device=dev) == [
        ("cpu", "cpu.cfs_period_us", "50000", False), ("cpu", "cpu.cfs_quota_us", "25000", False),
        ("cpuset", "cpuset.cpus", "0-1", False), ("cpuset", "cpuset.mems", "0", False),
        ("blkio", "blkio.weight", "300", True), ("blkio", "blkio.weight_device", "254:0 400", True),
        ("blkio", "blkio.throttle.read_bps_device", "254:0 1048576", False),
        ("blkio", "blkio.throttle.write_iops_device", "254:0 30", False),
        ("memory", "memory.soft_limit_in_bytes", str(10 << 20), False),
        ("memory", "memory.swappiness", "10", False), ("memory", "memory.oom_control", "1", False)]
    rt = cgknobs.writes(Knobs(cpu_rt_period=1000000, cpu_rt_runtime=950), v2=False)
    assert rt == [("cpu", "cpu.rt_period_us", "1000000", False), ("cpu", "cpu.rt_runtime_us", "950", False)]


def test_v2_writes_as_runc_converts_them():
    assert cgknobs.writes(FULL, v2=True, device=dev) == [
        ("unified", "cpu.max", "25000 50000", False),
        ("unified", "cpuset.cpus", "0-1", False), ("unified", "cpuset.mems", "0", False),
        ("unified", "io.bfq.weight", "300", True), ("unified", "io.weight", "default 2930", True),
        ("unified", "io.bfq.weight", "254:0 400", True), ("unified", "io.weight", "254:0 3940", True),
        ("unified", "io.max", "254:0 rbps=1048576", False), ("unified", "io.max", "254:0 wiops=30", False),
        ("unified", "memory.low", str(10 << 20), False)]      # swappiness, oom switch: none on v2
    assert cgknobs.writes(Knobs(cpu_period=20000), v2=True) == [("unified", "cpu.max", "max 20000", False)]
    with pytest.raises(UnsupportedError, match="cgroup v2"):
        cgknobs.writes(Knobs(cpu_rt_runtime=950), v2=True)


def test_devices_must_be_block_devices(tmp_path):
    with pytest.raises(UserError, match="not a block device"):
        cgknobs.device_number("/dev/null")
    with pytest.raises(UserError, match="No such file"):
        cgknobs.device_number(str(tmp_path / "nope"))


@pytest.mark.parametrize(("knobs", "cpus", "message"), [
    (Knobs(cpu_quota=50000), 0.5, "cannot both be set"),
    (Knobs(cpu_period=10), 0, "between 1000 and 1000000"),
    (Knobs(cpu_quota=10), 0, "at least 1000"),
    (Knobs(cpu_rt_period=1000, cpu_rt_runtime=2000), 0, "must not exceed"),
    (Knobs(blkio_weight=5), 0, "between 10 and 1000"),
    (Knobs(blkio_weight_device=[["/dev/vda", 2000]]), 0, "between 10 and 1000"),
    (Knobs(memory_swappiness=101), 0, "between 0 and 100"),
    (Knobs(cpuset_cpus="zero"), 0, "such as 0-3"),
])
def test_docker_refuses_what_it_refuses(knobs, cpus, message):
    with pytest.raises(UserError, match=message):
        validate(ContainerSpec(argv=["true"], cpus=cpus, knobs=knobs))


def test_spec_round_trips_its_knobs():
    spec = ContainerSpec(argv=["true"], knobs=Knobs(cpuset_cpus="0", device_read_bps=[["/dev/vda", 5]]),
                         oom_score_adj=-500)
    again = ContainerSpec.from_dict(spec.to_dict())
    assert again.knobs == spec.knobs and again.oom_score_adj == -500
    assert ContainerSpec.from_dict({"argv": ["true"]}).knobs == Knobs()   # a spec from before


def test_a_v2_tree_gets_the_files_and_its_controllers_enabled(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    monkeypatch.setattr(cgpaths, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", root)
    monkeypatch.setattr(cgroups, "is_v2", lambda: True)
    monkeypatch.setattr(cgknobs, "device_number", dev)
    attached = []  # the device filter's BPF program is the kernel's business: recorded here
    monkeypatch.setattr(cgroups.devfilter, "attach", lambda where, rules: attached.append(where))
    group = cgroups.Cgroup("c" * 64)
    d = root / "stackup" / ("c" * 64)
    assert group.v2 and group.dirs == {"unified": d}

    # the kernel makes a group's files at mkdir; here the test makes them first
    d.mkdir(parents=True)
    (root / "stackup" / "cgroup.subtree_control").write_text("")
    (root / "stackup" / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    for name in ("cpu.max", "cpuset.cpus", "cpuset.mems", "io.weight", "io.max", "memory.low"):
        (d / name).write_text("")
    group.create(knobs=Knobs(cpu_quota=30000, cpuset_cpus="1", blkio_weight=500,
                             device_write_bps=[["/dev/vda", 4096]], memory_reservation=1 << 20,
                             memory_swappiness=50))
    assert (d / "cpu.max").read_text() == "30000 100000"
    assert (d / "cpuset.cpus").read_text() == "1"
    assert (d / "io.weight").read_text() == "default 4950"   # no io.bfq.weight here: io.weight
    assert not (d / "io.bfq.weight").exists()
    assert (d / "io.max").read_text() == "254:0 wbps=4096"
    assert (d / "memory.low").read_text() == str(1 << 20)
    assert (root / "stackup" / "cgroup.subtree_control").read_text() == "+cpu +cpuset +io +memory +pids"
    assert attached == ([str(d)] if os.geteuid() == 0 else [])
