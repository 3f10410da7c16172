"""The kernel seam: `Syscalls` declares the operations, the real kernel and the recording
fake have exactly those, with the same signatures, and a step naming another fails."""

import inspect

import pytest

from stackup.engine.runtime import launch, rootfs
from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.spec import ContainerSpec, Mount

V1 = [("cgroup", "cpu"), ("cgroup", "memory"), ("cgroup", "pids")]
FAKE_READERS = {"names", "of"}  # the fake's own API for reading back what it recorded


def operations(cls):
    return {name for name, value in vars(cls).items()
            if callable(value) and not name.startswith("_")}


def test_the_real_kernel_and_the_fake_have_the_declared_operations_and_signatures():
    declared = operations(sc.Syscalls)
    assert {"mount", "pivot_root", "setns", "unshare", "openpty"} <= declared
    assert operations(sc.LinuxSyscalls) == declared
    assert operations(sc.RecordingSyscalls) - FAKE_READERS == declared
    for name in sorted(declared):
        expected = inspect.signature(getattr(sc.Syscalls, name))
        assert inspect.signature(getattr(sc.LinuxSyscalls, name)) == expected, name
        assert inspect.signature(getattr(sc.RecordingSyscalls, name)) == expected, name
    for impl in (sc.LinuxSyscalls(), sc.RecordingSyscalls()):  # the declared attributes
        assert (impl.pty_master, impl.pty_number) == (-1, -1)


def test_the_protocol_cannot_stand_in_for_the_kernel():
    with pytest.raises(TypeError, match="protocol"):
        sc.Syscalls()


def test_a_step_that_names_no_kernel_operation_fails_on_the_fake():
    with pytest.raises(AttributeError, match="mout"):
        rootfs.apply(sc.RecordingSyscalls(), [rootfs.Step("mout", ("a", "/b", None, 0, None))])
    with pytest.raises(AttributeError, match="unshar"):
        launch.apply_namespace_steps(sc.RecordingSyscalls(), [("unshar", sc.CLONE_NEWNS)])
    with pytest.raises(TypeError):  # the declared signature holds too
        rootfs.apply(sc.RecordingSyscalls(), [rootfs.Step("touch", ("/a", "/b"))])


def test_every_step_of_a_full_plan_is_a_declared_operation():
    spec = ContainerSpec(layers=["/l"], argv=["sh"], tty=True, init=True, init_path="/i/tini",
                         read_only=True, hostname="h",
                         mounts=[Mount(type="bind", source="/host/a", target="/a"),
                                 Mount(type="tmpfs", target="/t")])
    paths = rootfs.RootPaths(rootfs="/c/rootfs", upper="/c/upper", work="/c/work",
                             hostname="/c/hostname", hosts="/c/hosts",
                             resolv_conf="/c/resolv.conf", console="/dev/pts/0")
    steps = rootfs.plan_before_pivot(spec, paths, V1, lambda p: True) + rootfs.plan_after_pivot(spec)
    steps += [rootfs.Step(s[0], s[1:]) for s in launch.namespace_steps("/run/netns/x", True)]
    assert {s.call for s in steps} <= operations(sc.Syscalls)
