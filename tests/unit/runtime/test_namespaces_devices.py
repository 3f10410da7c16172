"""Namespace modes, devices and additional groups in the runtime's pure parts: the
namespace calls, the device nodes of the root file system plan, the parsing rules."""

import os
import stat

import pytest

from stackup.engine.runtime import launch, rootfs, spec
from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.process import UserNotFound, additional_groups
from stackup.errors import UserError

PATHS = rootfs.RootPaths("/c/rootfs", "/c/upper", "/c/work", "/c/hostname", "/c/hosts", "/c/resolv.conf")


def test_joined_and_host_namespaces_are_not_unshared():
    steps = launch.namespace_steps(None, joins=[("/proc/7/ns/ipc", sc.CLONE_NEWIPC),
                                                ("/proc/7/ns/pid", sc.CLONE_NEWPID)],
                                   shared=sc.CLONE_NEWUTS)
    assert steps[:2] == [("setns", "/proc/7/ns/ipc", sc.CLONE_NEWIPC), ("setns", "/proc/7/ns/pid", sc.CLONE_NEWPID)]
    assert steps[2] == ("unshare", sc.CLONE_NEWNS | sc.CLONE_NEWCGROUP)


def test_a_container_joined_must_run(tmp_path):
    from stackup.engine.runtime import statefile

    (tmp_path / "other").mkdir()
    statefile.write(str(tmp_path / "other" / statefile.FILE), {"id": "other", "name": "db", "status": "exited"})
    view = launch.SpecView({"ipc_mode": "container:other", "pid_mode": "host"})
    with pytest.raises(launch.SetupError, match="ipc namespace of container db: it is not running"):
        launch.namespace_modes(str(tmp_path / "me"), view)  # type: ignore[arg-type]
    statefile.write(str(tmp_path / "other" / statefile.FILE),
                    {"id": "other", "name": "db", "status": "running", "pid": 42})
    joins, shared = launch.namespace_modes(str(tmp_path / "me"), view)  # type: ignore[arg-type]
    assert (joins, shared) == ([("/proc/42/ns/ipc", sc.CLONE_NEWIPC)], sc.CLONE_NEWPID)


def test_uts_host_never_renames_the_host():
    calls = sc.RecordingSyscalls()
    view = launch.SpecView({"uts_mode": "host", "hostname": "vm", "domainname": "x", "sysctls": {},
                            "layers": [], "privileged": False, "read_only": False, "shm_size": 1})
    rootfs_apply = rootfs.apply
    try:
        rootfs.apply = lambda *a: None
        launch.container_setup(calls, view, PATHS, [])  # type: ignore[arg-type]
    finally:
        rootfs.apply = rootfs_apply
    assert calls.of("sethostname") == [] and calls.of("setdomainname") == []


def test_devices_are_made_with_the_host_nodes_mode_and_owner():
    s = spec.ContainerSpec(devices=[spec.Device(path="/dev/snd/x", type="c", major=116, minor=2,
                                                file_mode=0o660, uid=0, gid=29, permissions="rw")])
    steps = [st for st in rootfs.plan_before_pivot(s, PATHS, [], lambda p: True)
             if "/dev/snd" in repr(st.args[:1])]
    assert steps == [rootfs.Step("mkdir", (rootfs.InRoot("/c/rootfs", "/dev/snd"),)),
                     rootfs.Step("mknod", (rootfs.InRoot("/c/rootfs", "/dev/snd/x"), stat.S_IFCHR | 0o660,
                                           os.makedev(116, 2))),
                     rootfs.Step("chmod", (rootfs.InRoot("/c/rootfs", "/dev/snd/x"), 0o660)),
                     rootfs.Step("chown", (rootfs.InRoot("/c/rootfs", "/dev/snd/x"), 0, 29))]
    assert s.devices[0].rule() == "c 116:2 rw"
    assert spec.ContainerSpec.from_dict(s.to_dict()).devices == s.devices


@pytest.mark.parametrize("text, parsed", [
    ("/dev/fuse", ("/dev/fuse", "/dev/fuse", "rwm")),
    ("/dev/fuse:r", ("/dev/fuse", "/dev/fuse", "r")),
    ("/dev/null:/dev/mynull", ("/dev/null", "/dev/mynull", "rwm")),
    ("/dev/null:/dev/mynull:rw", ("/dev/null", "/dev/mynull", "rw")),
])
def test_device_short_syntax(text, parsed):
    assert spec.parse_device(text) == parsed


@pytest.mark.parametrize("text", ["", "/dev/a:/dev/b:rx", "/a:/b:r:w", "/dev/a:/dev/b:rr"])
def test_bad_devices_are_refused(text):
    with pytest.raises(UserError):
        spec.parse_device(text)


def test_device_cgroup_rules():
    assert spec.parse_device_rule("c 1:3 mr") == ("c", "1", "3", "mr")
    assert spec.parse_device_rule("a *:* rwm") == ("a", "*", "*", "rwm")
    for bad in ("c 1:3", "x 1:3 r", "c 1-3 r", "c 1:3 rx"):
        with pytest.raises(UserError, match="device cgroup rule"):
            spec.parse_device_rule(bad)


@pytest.mark.parametrize("field, value", [("ipc_mode", "bogus"), ("pid_mode", "private"),
                                          ("uts_mode", "container:x"), ("cgroupns_mode", "container:x")])
def test_bad_namespace_modes_are_refused(field, value):
    s = spec.ContainerSpec(argv=["sh"], **{field: value})
    with pytest.raises(UserError, match="mode"):
        spec.validate(s)


def test_a_hostname_with_the_hosts_uts_is_refused():
    with pytest.raises(UserError, match="UTS"):
        spec.validate(spec.ContainerSpec(argv=["sh"], uts_mode="host", hostname="x"))


def test_additional_groups_by_name_or_number():
    group = "root:x:0:\nwww-data:x:33:\n"
    assert additional_groups(["www-data", "4242"], group) == [33, 4242]
    with pytest.raises(UserNotFound, match="nosuch"):
        additional_groups(["nosuch"], group)
