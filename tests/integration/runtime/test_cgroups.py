"""Cgroup limits, the device allow list, stats and cleanup, as the kernel's files show them.

Written for both hierarchies: on this machine they run on cgroup v1; the VM tier
(tests/vm) runs them again on a real cgroup v2 kernel.
"""

import os
import time
from pathlib import Path

import pytest

from stackup.engine.runtime import cgroups, usage
from stackup.testing.containers import assert_no_trace, output, run, sh, spec

pytestmark = pytest.mark.root

V2 = cgroups.is_v2()
needs_v2 = pytest.mark.skipif(not V2, reason="a cgroup v2 feature (the VM tier runs it)")


def started(rt, script, **kw):
    state = rt.create(spec(rt, ["sh", "-c", script], **kw))
    return rt.start(state.id)


def wait_for(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def knob(cid, v2_file, v1_controller, v1_file) -> str:
    cg = cgroups.Cgroup(cid)
    d = cg.dir("unified") if V2 else cg.dir(v1_controller)
    assert d is not None, f"no {v1_controller} hierarchy"
    return (d / (v2_file if V2 else v1_file)).read_text().strip()


def test_limits_are_written_to_the_kernels_files(rt):
    state = rt.create(spec(rt, ["true"], memory=64 << 20, memory_swap=96 << 20, cpus=1.5,
                           cpu_shares=512, pids_limit=33))
    cid = state.id
    assert knob(cid, "memory.max", "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert knob(cid, "pids.max", "pids", "pids.max") == "33"
    if V2:
        assert knob(cid, "cpu.max", "", "") == "150000 100000"
        # shares 2..262144 onto weights 1..10000, as runc maps them
        assert knob(cid, "cpu.weight", "", "") == str(1 + (510 * 9999) // 262142)
        swap = cgroups.Cgroup(cid).dir("unified") / "memory.swap.max"
        if swap.exists():  # v2 counts swap alone: memory-swap minus memory
            assert swap.read_text().strip() == str(32 << 20)
    else:
        assert knob(cid, "", "cpu", "cpu.cfs_quota_us") == "150000"
        assert knob(cid, "", "cpu", "cpu.shares") == "512"


def test_the_container_sees_its_own_limits(rt):
    path = "/sys/fs/cgroup/memory.max" if V2 else "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    code, out, _ = sh(rt, f"cat {path}", memory=48 << 20)
    assert code == 0 and out.split() == [str(48 << 20)]


def test_pause_freezes_every_process_and_unpause_thaws(rt):
    state = started(rt, "sleep 60 & while true; do sleep 0.1; done")
    cid = state.id
    wait_for(lambda: len(cgroups.Cgroup(cid).pids()) >= 3, "no children started")
    rt.pause(cid)
    if V2:
        d = cgroups.Cgroup(cid).dir("unified")
        assert d is not None
        assert (d / "cgroup.freeze").read_text().strip() == "1"
        assert "frozen 1" in (d / "cgroup.events").read_text()
    for pid in cgroups.Cgroup(cid).pids():  # the kernel parks frozen tasks in a stopped state
        stat = Path(f"/proc/{pid}/stat").read_text()
        assert stat.rsplit(")", 1)[1].split()[0] in ("D", "S", "T", "t"), stat
    rt.unpause(cid)
    assert not cgroups.Cgroup(cid).frozen()
    rt.kill(cid, "KILL")
    assert rt.wait(cid, timeout=30) == 137


def test_oom_kill_is_counted_and_reported(rt):
    code, _, state = run(rt, ["sh", "-c", "tail /dev/zero; echo survived"],
                         memory=24 << 20, memory_swap=24 << 20)
    # the shell survives the killed tail: only the container's state tells of the OOM kill
    assert "survived" in output(rt, state.id)
    assert code == 0 and state.oom_killed is True


def test_oom_kill_of_pid1_exits_137(rt):
    code, _, state = run(rt, ["tail", "/dev/zero"], memory=24 << 20, memory_swap=24 << 20)
    assert (code, state.oom_killed) == (137, True)


def test_stats_sample_the_cgroup(rt):
    state = started(rt, "head -c 20000000 /dev/zero | md5sum; echo done; sleep 60",
                    memory=128 << 20, pids_limit=50)
    cid = state.id
    wait_for(lambda: "done" in output(rt, cid), "no output")
    sample = usage.sample(cid)
    assert sample.cpu_ns > 1_000_000  # md5 of 20 MB takes more than a millisecond
    assert 0 < sample.memory < 128 << 20
    assert sample.memory_limit == 128 << 20
    assert sample.pids >= 1
    rt.kill(cid, "KILL")


MKNOD = "mknod /tmp/kmsg c 1 11 && echo stackup-device-test > /tmp/kmsg && echo opened"


def test_a_device_not_given_cannot_be_opened(rt):
    # /dev/kmsg (1:11) is not in Docker's default list: the node can be made ("c *:* m")
    # but not opened; /dev/null is in it
    code, out, _ = sh(rt, f"echo x > /dev/null && echo null-ok; {MKNOD}")
    assert "null-ok" in out
    assert "opened" not in out and "Operation not permitted" in out


def test_a_privileged_container_opens_any_device(rt):
    code, out, _ = sh(rt, MKNOD, privileged=True)
    assert code == 0 and "opened" in out


def test_nothing_is_left_in_the_cgroup_tree_after_rm(rt, monkeypatch):
    parent = f"stackup-test-{os.getpid()}"
    monkeypatch.setenv("STACKUP_CGROUP_PARENT", parent)
    state = started(rt, "sleep 60 & sleep 60", memory=32 << 20)
    dirs = cgroups.Cgroup(state.id).paths()
    assert all(parent in str(d) and d.exists() for d in dirs)
    rt.remove(state.id, force=True)
    assert_no_trace(rt, state.id)
    assert not any(d.parent.exists() for d in dirs), "the parent group was left"


@needs_v2
def test_containers_go_under_a_delegated_subtree(rt, monkeypatch):
    """As systemd delegates a subtree: the runtime places its groups under the parent it
    is given, with the limits, and takes them away again."""
    top = cgroups.CGROUP_ROOT / f"stackup-deleg-{os.getpid()}"
    top.mkdir()
    try:
        monkeypatch.setenv("STACKUP_CGROUP_PARENT", f"{top.name}/containers")
        code, out, state = sh(rt, "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max",
                              pids_limit=17)
        assert code == 0 and out.split()[-1] == "17"
        assert cgroups.Cgroup(state.id).dir("unified") == top / "containers" / state.id
        rt.remove(state.id)
        assert_no_trace(rt, state.id)
        assert not (top / "containers").exists()
    finally:
        top.rmdir()


@needs_v2
def test_an_unprivileged_owner_of_a_delegated_subtree_sets_limits(monkeypatch):
    """The cgroup layer as rootless mode will use it: a uid that owns a subtree (the
    files systemd chowns on Delegate=yes) makes a group with limits and moves its own
    process into it, with no privilege."""
    uid, cid = 1000, "c" * 64
    top = cgroups.CGROUP_ROOT / f"stackup-user-{os.getpid()}"
    monkeypatch.setenv("STACKUP_CGROUP_PARENT", f"{top.name}/containers")
    (cgroups.CGROUP_ROOT / "cgroup.subtree_control").write_text("+memory +pids")
    (top / "init").mkdir(parents=True)
    for path in (top, top / "cgroup.procs", top / "cgroup.subtree_control",
                 top / "cgroup.threads", top / "init", top / "init" / "cgroup.procs"):
        os.chown(path, uid, uid)
    read_end, write_end = os.pipe()  # the child's report (it cannot reach pytest's tmp)
    pid = os.fork()
    if pid == 0:  # the user's process: put in its subtree (as systemd does), then alone
        try:
            (top / "init" / "cgroup.procs").write_text(str(os.getpid()))
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            cg = cgroups.Cgroup(cid)
            cg.create(memory=40 << 20, pids_limit=9)
            cg.add(os.getpid())
            d = cg.dir("unified")
            assert d is not None
            lines = [(d / "memory.max").read_text().strip(), (d / "pids.max").read_text().strip(),
                     Path("/proc/self/cgroup").read_text().strip()]
            (top / "init" / "cgroup.procs").write_text(str(os.getpid()))  # out again
            os.write(write_end, "\n".join(lines).encode())
            os._exit(0)
        except BaseException as exc:  # the child reports, never returns into pytest
            os.write(write_end, f"error: {exc!r}".encode())
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    try:
        assert os.waitstatus_to_exitcode(status) == 0, text
        assert text.splitlines() == [str(40 << 20), "9", f"0::/{top.name}/containers/{cid}"]
    finally:
        cgroups.Cgroup(cid).remove()
        for d in (top / "containers", top / "init", top):
            if d.exists():
                d.rmdir()


def test_the_compose_cgroup_knobs_reach_the_kernels_files(rt):
    """cpu_period/cpu_quota, cpuset and mem_reservation (issue 13's knobs), on either hierarchy."""
    from stackup.engine.runtime.cgknobs import Knobs

    state = rt.create(spec(rt, ["true"], knobs=Knobs(cpu_period=50000, cpu_quota=25000,
                                                     cpuset_cpus="0", memory_reservation=32 << 20)))
    cid = state.id
    assert knob(cid, "cpuset.cpus", "cpuset", "cpuset.cpus") == "0"
    if V2:
        assert knob(cid, "cpu.max", "", "") == "25000 50000"
        assert knob(cid, "memory.low", "", "") == str(32 << 20)
    else:
        assert knob(cid, "", "cpu", "cpu.cfs_period_us") == "50000"
        assert knob(cid, "", "cpu", "cpu.cfs_quota_us") == "25000"
        assert knob(cid, "", "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    code, out, _ = run(rt, ["cat", "/sys/fs/cgroup/cpuset.cpus.effective" if V2
                            else "/sys/fs/cgroup/cpuset/cpuset.cpus"], knobs=Knobs(cpuset_cpus="0"))
    assert (code, out.strip()) == (0, "0")
