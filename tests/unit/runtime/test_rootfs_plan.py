"""The mount plan and the order of the setup steps, checked against the recording fake."""

from stackup.engine.runtime import launch, rootfs
from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.spec import ContainerSpec, Mount

PATHS = rootfs.RootPaths(rootfs="/c/rootfs", upper="/c/upper", work="/c/work",
                         hostname="/c/hostname", hosts="/c/hosts", resolv_conf="/c/resolv.conf")
V1 = [("cgroup", "cpu"), ("cgroup", "memory"), ("cgroup", "pids")]


def R(path, ordinary=False):
    """A path inside the new root, as the plan carries it (resolved only when applied)."""
    return rootfs.InRoot("/c/rootfs", path, ordinary)


def plan(spec=None, cgroup_mounts=V1, is_dir=lambda p: True):
    spec = spec or ContainerSpec(layers=["/l/base", "/l/mid", "/l/top"], argv=["true"])
    return rootfs.plan_before_pivot(spec, PATHS, cgroup_mounts, is_dir)


def mounts(steps):
    return [s.args for s in steps if s.call == "mount"]


def test_overlay_lists_layers_top_first_with_upper_and_work():
    first = plan()[0]
    assert first.call == "mount"
    assert first.args[:3] == ("overlay", "/c/rootfs", "overlay")
    assert first.args[4] == ("lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work")


def test_proc_sys_dev_mounted_under_new_root_before_pivot():
    steps = plan()
    targets = [m[1] for m in mounts(steps)]
    for path in (R("/proc", True), R("/sys", True), R("/dev"), R("/dev/pts"), R("/dev/shm"),
                 R("/dev/mqueue"), R("/etc/hostname"), R("/etc/hosts"), R("/etc/resolv.conf")):
        assert path in targets, path
    # every target inside the new root is resolved when applied, none is a plain host path
    assert all(isinstance(t, rootfs.InRoot) for t in targets[1:])
    calls = [s.call for s in steps]
    pivot = calls.index("pivot_root")
    assert calls[pivot - 1:pivot + 3] == ["chdir", "pivot_root", "umount2", "chdir"]
    assert pivot == len(calls) - 3  # nothing is mounted after the pivot in this phase


def test_sys_is_read_only_unless_privileged():
    sysfs = [m for m in mounts(plan()) if m[2] == "sysfs"][0]
    assert sysfs[3] & sc.MS_RDONLY
    priv = ContainerSpec(layers=["/l"], argv=["true"], privileged=True)
    sysfs = [m for m in mounts(plan(priv)) if m[2] == "sysfs"][0]
    assert not sysfs[3] & sc.MS_RDONLY


def test_dev_has_docker_devices_and_new_devpts_instance():
    steps = plan()
    nodes = {s.args[0].path.rsplit("/", 1)[1]: s.args[2] for s in steps if s.call == "mknod"}
    assert set(nodes) == {"null", "zero", "full", "random", "urandom", "tty"}
    import os

    assert nodes["null"] == os.makedev(1, 3) and nodes["tty"] == os.makedev(5, 0)
    devpts = [m for m in mounts(steps) if m[2] == "devpts"][0]
    assert "newinstance" in devpts[4] and "ptmxmode=0666" in devpts[4]
    links = {s.args[1].path.rsplit("/", 1)[1]: s.args[0] for s in steps if s.call == "symlink"}
    assert rootfs.Step("symlink", ("pts/ptmx", R("/dev/ptmx"))) in steps
    assert links["ptmx"] == "pts/ptmx" and links["fd"] == "/proc/self/fd"


def test_shm_size_is_applied():
    spec = ContainerSpec(layers=["/l"], argv=["true"], shm_size=1 << 20)
    shm = [m for m in mounts(plan(spec)) if m[1] == R("/dev/shm")][0]
    assert f"size={1 << 20}" in shm[4]


def test_cgroup_v1_hierarchies_mounted_read_only():
    ms = mounts(plan())
    cg = [m for m in ms if m[2] == "cgroup"]
    assert [m[4] for m in cg] == ["cpu", "memory", "pids"]
    assert all(m[3] & sc.MS_RDONLY for m in cg)
    assert [m[1] for m in cg] == [R("/sys/fs/cgroup/cpu"), R("/sys/fs/cgroup/memory"),
                                  R("/sys/fs/cgroup/pids")]
    remount = [m for m in ms if m[1] == R("/sys/fs/cgroup") and m[3] & sc.MS_REMOUNT]
    assert remount and remount[0][3] & sc.MS_RDONLY


def test_cgroup_v2_is_one_read_only_mount():
    cg = [m for m in mounts(plan(cgroup_mounts=[("cgroup2", "")])) if "cgroup" in (m[2] or "")]
    assert cg == [("cgroup2", R("/sys/fs/cgroup"), "cgroup2",
                   sc.MS_RDONLY | rootfs.NOSUID_NODEV_NOEXEC, None)]


def test_user_mounts_parents_first_and_read_only_remount():
    spec = ContainerSpec(layers=["/l"], argv=["true"], mounts=[
        Mount(type="bind", source="/host/a", target="/data/sub", read_only=True),
        Mount(type="tmpfs", target="/data", options={"size": "1m", "mode": "1777"}),
        Mount(type="bind", source="/host/file", target="/etc/app.conf")])
    steps = plan(spec, is_dir=lambda p: p != "/host/file")
    targets = [s.args[1] for s in steps if s.call == "mount"]
    assert targets.index(R("/data")) < targets.index(R("/data/sub"))
    tmpfs = [s.args for s in steps if s.call == "mount" and s.args[1] == R("/data")][0]
    assert tmpfs[2] == "tmpfs" and tmpfs[4] == "mode=1777,size=1m"
    ro = [s.args for s in steps if s.call == "mount" and s.args[1] == R("/data/sub")]
    assert ro[0][:4] == ("/host/a", R("/data/sub"), None, sc.MS_BIND | sc.MS_REC)
    assert ro[1][3] & sc.MS_REMOUNT and ro[1][3] & sc.MS_RDONLY
    assert rootfs.Step("mkdir", (R("/data/sub"),)) in steps
    assert rootfs.Step("touch", (R("/etc/app.conf"),)) in steps


def test_after_pivot_masks_and_read_only_paths():
    steps = rootfs.plan_after_pivot(ContainerSpec(layers=["/l"], argv=["true"]))
    masked = {s.args[1] for s in steps if s.args[0] in ("/dev/null", "tmpfs")}
    assert {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi",
            "/sys/firmware"} <= masked
    ro = {s.args[1] for s in steps if s.args[3] & sc.MS_REMOUNT}
    assert {"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"} <= ro
    assert all(s.optional for s in steps)


def test_read_only_root_and_privileged():
    steps = rootfs.plan_after_pivot(ContainerSpec(layers=["/l"], argv=["true"], read_only=True,
                                                  privileged=True))
    assert [(s.call, s.args) for s in steps] == [
        ("mount", (None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None))]


def test_apply_runs_steps_in_order_on_the_fake():
    fake = sc.RecordingSyscalls()
    steps = plan()
    rootfs.apply(fake, steps)
    assert [c[0] for c in fake.calls] == [s.call for s in steps]
    assert fake.calls[0][0] == "mount" and fake.calls[0][3] == "overlay"


def test_apply_skips_missing_optional_paths():
    class Missing(sc.RecordingSyscalls):
        def mount(self, *args):
            raise FileNotFoundError(2, "missing")

    rootfs.apply(Missing(), [rootfs.Step("mount", ("/dev/null", "/proc/nope", None, 0, None), True)])
    import pytest

    with pytest.raises(FileNotFoundError):
        rootfs.apply(Missing(), [rootfs.Step("mount", ("a", "/b", None, 0, None))])


def test_namespace_steps_join_netns_then_unshare_then_private():
    steps = launch.namespace_steps("/run/netns/x")
    assert steps[0] == ("setns", "/run/netns/x", sc.CLONE_NEWNET)
    assert steps[1][0] == "unshare"
    flags = steps[1][1]
    for flag in (sc.CLONE_NEWNS, sc.CLONE_NEWPID, sc.CLONE_NEWUTS, sc.CLONE_NEWIPC,
                 sc.CLONE_NEWCGROUP):
        assert flags & flag
    assert not flags & sc.CLONE_NEWNET and not flags & sc.CLONE_NEWUSER
    assert steps[2] == ("mount", None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
    assert launch.namespace_steps(None)[0][0] == "unshare"  # host network: no setns
    # network none: a private namespace made by the unshare, its loopback brought up
    steps = launch.namespace_steps(None, new_net=True)
    assert steps[0] == ("unshare", launch.NS_FLAGS | sc.CLONE_NEWNET)
    assert steps[1] == ("loopback_up",) and steps[2][0] == "mount"


def test_container_setup_order_on_the_fake():
    fake = sc.RecordingSyscalls()
    spec = launch.SpecView(ContainerSpec(layers=["/l"], argv=["true"], hostname="h",
                                         domainname="d", sysctls={"net.ipv4.ip_forward": "1"}
                                         ).to_dict())
    launch.container_setup(fake, spec, PATHS, V1)
    names = fake.names()
    assert names.index("pivot_root") < names.index("sethostname") < names.index("setdomainname")
    assert ("write_file", "/proc/sys/net/ipv4/ip_forward", "1") in fake.calls
    # sysctls are written before /proc/sys is made read-only
    write = fake.calls.index(("write_file", "/proc/sys/net/ipv4/ip_forward", "1"))
    ro_sys = [i for i, c in enumerate(fake.calls) if c[0] == "mount" and c[2] == "/proc/sys"]
    assert write < min(ro_sys)


def test_many_layers_mount_through_short_links(tmp_path):
    layers = [f"/var/lib/stackup/images/layers/{i:064x}" for i in range(60)]
    spec = ContainerSpec(layers=layers, argv=["true"])
    steps = plan(spec)
    assert [s.call for s in steps[:3]] == ["chdir", "mount", "chdir"]
    assert steps[0].args == ("/c",)
    data = steps[1].args[4]
    assert data.startswith("lowerdir=l/59:l/58:") and data.endswith(",upperdir=upper,workdir=work")
    assert steps[2].args == ("/",)
    rootfs.layer_links(str(tmp_path), layers[:3])
    assert (tmp_path / "l" / "2").readlink().name == f"{2:064x}"


def test_tty_container_opens_its_pty_in_its_own_devpts_and_binds_it_as_console():
    spec = ContainerSpec(layers=["/l"], argv=["sh"], tty=True)
    paths = rootfs.RootPaths(rootfs="/c/rootfs", upper="/c/upper", work="/c/work",
                             hostname="/c/hostname", hosts="/c/hosts",
                             resolv_conf="/c/resolv.conf", console="/dev/pts/0")
    steps = rootfs.plan_before_pivot(spec, paths, V1, lambda p: True)
    calls = [(s.call, s.args[1] if s.call == "mount" else s.args[0]) for s in steps]
    devpts = calls.index(("mount", R("/dev/pts")))
    opened = calls.index(("openpty", R("/dev/pts/ptmx")))
    console = calls.index(("mount", R("/dev/console")))
    assert devpts < opened < console
    assert steps[console].args[0] == R("/dev/pts/0")
    # without a tty there is no pty and no console
    assert "openpty" not in [s.call for s in plan()]


def test_the_static_init_is_shown_read_only_as_docker_init():
    spec = ContainerSpec(layers=["/l"], argv=["true"], init=True, init_path="/usr/bin/tini-static")
    steps = plan(spec)
    target = R("/sbin/docker-init")
    at = steps.index(rootfs.Step("touch", (target,)))
    assert steps[at + 1] == rootfs.Step("mount", ("/usr/bin/tini-static", target, None, sc.MS_BIND, None))
    assert steps[at + 2].args[1] == target and steps[at + 2].args[3] & sc.MS_RDONLY
    assert not any(s.call == "touch" and s.args[0] == target for s in plan())  # only with init


def _host_paths(fake):
    """Every string argument of the recorded calls that is an absolute path."""
    return [a for call in fake.calls for a in call[1:] if isinstance(a, str) and a.startswith("/")]


def test_apply_resolves_paths_in_the_root_when_applied_not_when_planned(tmp_path):
    root = tmp_path / "rootfs"
    paths = rootfs.RootPaths(rootfs=str(root), upper="/c/upper", work="/c/work",
                             hostname="/c/hostname", hosts="/c/hosts",
                             resolv_conf="/c/resolv.conf", console="/dev/pts/0")
    spec = ContainerSpec(layers=["/l"], argv=["sh"], tty=True, init=True, init_path="/i/tini",
                         mounts=[Mount(type="bind", source="/host/a", target="/hostroot/tmp/x"),
                                 Mount(type="tmpfs", target="/up/up/var/cache")])
    steps = rootfs.plan_before_pivot(spec, paths, V1, lambda p: True)
    # the image's tree appears only after planning (the overlay is the plan's first step)
    for d in ("proc", "sys", "dev", "tmp", "var"):
        (root / d).mkdir(parents=True)
    (root / "etc").symlink_to("/")  # etc -> the host's / if followed on the host
    (root / "hostroot").symlink_to("/")
    (root / "up").symlink_to("../../..")
    (root / "sbin").symlink_to("/tmp")
    fake = sc.RecordingSyscalls()
    rootfs.apply(fake, steps)
    r = str(root)
    assert ("touch", f"{r}/hostname") in fake.calls and ("touch", f"{r}/resolv.conf") in fake.calls
    assert ("mount", "/c/hosts", f"{r}/hosts", None, sc.MS_BIND, None) in fake.calls
    assert ("touch", f"{r}/tmp/docker-init") in fake.calls
    assert ("mkdir", f"{r}/tmp/x", 0o755) in fake.calls
    assert ("mkdir", f"{r}/var/cache", 0o755) in fake.calls
    assert ("mount", f"{r}/dev/pts/0", f"{r}/dev/console", None, sc.MS_BIND, None) in fake.calls
    sources = {"/c/hostname", "/c/hosts", "/c/resolv.conf", "/i/tini", "/host/a", "/", "/l",
               "/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2",
               "/proc/kcore"}
    outside = [p for p in _host_paths(fake) if p not in sources and not p.startswith(r + "/")]
    assert set(outside) == {r}  # the overlay mounted on the new root, and `chdir` into it
    # every target in the root reaches the syscalls resolved, so `mount` pins it
    from stackup.engine.runtime.securejoin import Resolved

    targets = [c[2] for c in fake.of("mount")]
    assert all(isinstance(t, Resolved) for t in targets[1:])
    assert not isinstance(targets[0], Resolved)  # the overlay's mount point is the host's


def test_proc_and_sys_must_not_be_symlinks(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "proc").symlink_to("/sys")
    (root / "sys").mkdir()
    steps = [s for s in plan() if s.call == "mkdir"][:2]
    fixed = [rootfs.Step(s.call, (rootfs.InRoot(str(root), s.args[0].path, s.args[0].ordinary),))
             for s in steps]
    import pytest

    with pytest.raises(OSError) as info:
        rootfs.apply(sc.RecordingSyscalls(), fixed)
    assert str(info.value) == ("cannot mount on /proc: it is a symbolic link in the image, "
                               "an ordinary directory is needed")
    # a symlink above them is resolved in the root as usual
    assert rootfs.InRoot(str(root), "/etc/../proc/x", True).resolve() == f"{root}/sys/x"


def test_slave_propagation_sets_each_binds_own_and_the_roots():
    private = ContainerSpec(layers=["/l"], argv=["true"], mounts=[Mount(type="bind", source="/a", target="/a")])
    assert [m for m in mounts(plan(private)) if m[1] == R("/a")] == [("/a", R("/a"), None, sc.MS_BIND | sc.MS_REC, None)]
    assert not rootfs.receives_host_mounts(private)
    spec = ContainerSpec(layers=["/l"], argv=["true"], mounts=[
        Mount(type="bind", source="/a", target="/a"),
        Mount(type="bind", source="/b", target="/b", read_only=True, propagation="rslave"),
        Mount(type="bind", source="/c", target="/c", propagation="slave")])
    assert rootfs.receives_host_mounts(spec)
    last = {m[1]: m[3] for m in mounts(plan(spec))}  # the last mount call on each target
    # the default (rprivate) is said too: the root's copies are slaves now
    assert last[R("/a")] == sc.MS_PRIVATE | sc.MS_REC
    assert last[R("/b")] == sc.MS_SLAVE | sc.MS_REC and last[R("/c")] == sc.MS_SLAVE
    steps = launch.namespace_steps(None, root_propagation=sc.MS_REC | sc.MS_SLAVE)
    assert steps[-1] == ("mount", None, "/", None, sc.MS_REC | sc.MS_SLAVE, None)
    assert launch.namespace_steps(None)[-1] == ("mount", None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
