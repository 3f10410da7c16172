"""The container's file system: a plan of mount steps, then applying it.

`plan_before_pivot` lists every step that builds the root (overlay, /proc, /sys,
/dev, /etc files, the caller's mounts) under the host path of the new root;
`plan_after_pivot` the steps taken inside it (masked and read-only paths, a read-only
root). A step is a syscalls method name and its arguments, so the plan can be
checked against a recording fake and applied to the real kernel by the same code.
All of it happens in the container's own mount namespace: nothing is mounted on the
host, so a container that dies leaves no mount behind.

Paths inside the new root are `InRoot` values, resolved by `apply` just before their
step (the tree only exists once the overlay, the plan's first step, is mounted) the
way Docker's runc does: symlinks of the image are followed inside the root, never to
the host's files (see `securejoin`).
"""

from __future__ import annotations

import errno
import os
import stat

from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.securejoin import Resolved, ResolveError, resolved

TYPE_CHECKING = False  # not `typing`: it costs a fresh process milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable

    from stackup.engine.runtime.spec import ContainerSpec

# Docker's default masked paths (hidden) and read-only paths.
MASKED_DIRS = ["/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware",
               "/sys/devices/virtual/powercap"]
MASKED_FILES = ["/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

DEVICES = [  # name, major, minor (all 0666, as Docker creates them)
    ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
    ("tty", 5, 0),
]
DEV_LINKS = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"),
             ("/proc/self/fd/1", "stdout"), ("/proc/self/fd/2", "stderr"),
             ("pts/ptmx", "ptmx"), ("/proc/kcore", "core")]

NOSUID_NODEV_NOEXEC = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
INIT_TARGET = "/sbin/docker-init"  # where Docker shows its init, so scripts find it alike


class Step:
    """One call on the syscalls object; `optional` ones are skipped when the path does not
    exist on this kernel."""

    __slots__ = ("call", "args", "optional")

    def __init__(self, call: str, args: tuple, optional: bool = False):
        self.call, self.args, self.optional = call, args, optional

    def __repr__(self) -> str:
        return f"Step({self.call!r}, {self.args!r}{', optional' if self.optional else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Step) and (self.call, self.args, self.optional) == \
            (other.call, other.args, other.optional)


class InRoot:
    """A path inside the container's root (`path`, as the container sees it), turned into
    a host path below `root` only when its step is applied: `resolve()`.

    `ordinary`: the path itself must not be a symlink (proc and sysfs are mounted on an
    ordinary directory only, as runc requires), the rest of it is resolved as usual."""

    __slots__ = ("root", "path", "ordinary")

    def __init__(self, root: str, path: str, ordinary: bool = False):
        self.root, self.path, self.ordinary = root, path, ordinary

    def __truediv__(self, name: str) -> InRoot:
        return InRoot(self.root, f"{self.path.rstrip('/')}/{name}")

    def resolve(self) -> Resolved:
        if not self.ordinary:
            return resolved(self.root, self.path)
        host = resolved(self.root, self.path, follow_last=False)
        if os.path.islink(host):
            raise ResolveError(errno.ELOOP, f"cannot mount on {self.path}: it is a symbolic "
                               "link in the image, an ordinary directory is needed", self.path)
        return host

    def __repr__(self) -> str:
        return f"InRoot({self.root!r}, {self.path!r}{', ordinary' if self.ordinary else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InRoot) and (self.root, self.path, self.ordinary) == \
            (other.root, other.path, other.ordinary)

    def __hash__(self) -> int:
        return hash((self.root, self.path, self.ordinary))


class RootPaths:
    """Host paths the plan needs: the new root's mount point and the container's files
    (console: the pty slave to show as /dev/console, for tty containers, as a path
    inside the container: /dev/pts/N)."""

    def __init__(self, rootfs: str, upper: str, work: str, hostname: str, hosts: str,
                 resolv_conf: str, console: str = ""):
        self.rootfs, self.upper, self.work = rootfs, upper, work
        self.hostname, self.hosts, self.resolv_conf, self.console = hostname, hosts, resolv_conf, console


def overlay_options(layers: list[str], upper: str, work: str) -> str:
    # overlayfs lists lowerdirs top first; layers are stored base first.
    lower = ":".join(reversed(layers))
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


MOUNT_DATA_MAX = 4000  # the kernel takes one page of mount options


def overlay_steps(layers: list[str], paths: RootPaths) -> list[Step]:
    """Mount the overlay. With many layers the options would not fit in the page the kernel
    takes, so the lowerdirs are given as short links `l/<n>` (made at create, see
    `layer_links`) relative to the container's directory, as Docker's overlay2 does."""
    data = overlay_options(layers, paths.upper, paths.work)
    if len(data) <= MOUNT_DATA_MAX:
        return [Step("mount", ("overlay", paths.rootfs, "overlay", 0, data))]
    cdir = os.path.dirname(paths.upper)
    links = [f"l/{i}" for i in range(len(layers))]
    return [Step("chdir", (cdir,)),
            Step("mount", ("overlay", paths.rootfs, "overlay", 0,
                           overlay_options(links, "upper", "work"))),
            Step("chdir", ("/",))]


def layer_links(cdir: str, layers: list[str]) -> None:
    """The short links `cdir/l/<n>` -> layer n (base first) that `overlay_steps` may use."""
    os.makedirs(os.path.join(cdir, "l"), exist_ok=True)
    for i, layer in enumerate(layers):
        link = os.path.join(cdir, "l", str(i))
        if not os.path.islink(link):
            os.symlink(layer, link)


def _in(root: str, path: str, ordinary: bool = False) -> InRoot:
    return InRoot(root, path, ordinary)


def plan_before_pivot(spec: ContainerSpec, paths: RootPaths, cgroup_mounts: list[tuple[str, str]],
                      is_dir: Callable[[str], bool] = os.path.isdir) -> list[Step]:
    """Steps that assemble the new root at `paths.rootfs` (cgroup_mounts: (fstype, options))."""
    r = paths.rootfs
    ro_sys = 0 if spec.privileged else sc.MS_RDONLY
    proc, sys = _in(r, "/proc", ordinary=True), _in(r, "/sys", ordinary=True)
    steps = overlay_steps(spec.layers, paths) + [
        Step("mkdir", (proc,)),
        Step("mount", ("proc", proc, "proc", NOSUID_NODEV_NOEXEC, None)),
        Step("mkdir", (sys,)),
        Step("mount", ("sysfs", sys, "sysfs", NOSUID_NODEV_NOEXEC | ro_sys, None)),
    ]
    steps += _cgroup_steps(_in(r, "/sys/fs/cgroup"), cgroup_mounts)
    steps += _dev_steps(spec, paths)
    for name, source in (("hostname", paths.hostname), ("hosts", paths.hosts),
                         ("resolv.conf", paths.resolv_conf)):
        target = _in(r, f"/etc/{name}")
        steps += [Step("touch", (target,)), Step("mount", (source, target, None, sc.MS_BIND, None))]
    init_path = getattr(spec, "init_path", "")
    if init_path:
        target = _in(r, INIT_TARGET)
        steps += [Step("touch", (target,)), Step("mount", (init_path, target, None, sc.MS_BIND, None)),
                  Step("mount", (None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None))]
    # Parents before children, as Docker sorts them, so a mount never hides another.
    for m in sorted(spec.mounts, key=lambda m: len(os.path.normpath(m.target).split("/"))):
        steps += _user_mount_steps(r, m, is_dir, receives_host_mounts(spec))
    steps += [Step("chdir", (r,)), Step("pivot_root", (".", ".")),
              Step("umount2", (".", sc.MNT_DETACH)), Step("chdir", ("/",))]
    return steps


def _cgroup_steps(base: InRoot, cgroup_mounts: list[tuple[str, str]]) -> list[Step]:
    if not cgroup_mounts:
        return []
    ro = sc.MS_RDONLY | NOSUID_NODEV_NOEXEC
    if cgroup_mounts[0][0] == "cgroup2":
        return [Step("mount", ("cgroup2", base, "cgroup2", ro, None))]
    steps = [Step("mount", ("tmpfs", base, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755"))]
    for fstype, controller in cgroup_mounts:
        steps += [Step("mkdir", (base / controller,)),
                  Step("mount", ("cgroup", base / controller, fstype, ro, controller))]
    steps.append(Step("mount", (None, base, None,
                                sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | NOSUID_NODEV_NOEXEC,
                                None)))
    return steps


def _dev_steps(spec: ContainerSpec, paths: RootPaths) -> list[Step]:
    dev = _in(paths.rootfs, "/dev")
    steps = [Step("mkdir", (dev,)),
             Step("mount", ("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME,
                            "mode=755,size=65536k"))]
    for name, major, minor in DEVICES:
        steps += [Step("mknod", (dev / name, stat.S_IFCHR | 0o666, os.makedev(major, minor))),
                  Step("chmod", (dev / name, 0o666))]
    for target, name in DEV_LINKS:
        steps.append(Step("symlink", (target, dev / name)))
    steps += [
        Step("mkdir", (dev / "pts",)),
        Step("mount", ("devpts", dev / "pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
                       "newinstance,ptmxmode=0666,mode=0620,gid=5")),
        Step("mkdir", (dev / "shm",)),
        Step("mount", ("shm", dev / "shm", "tmpfs", NOSUID_NODEV_NOEXEC,
                       f"mode=1777,size={spec.shm_size}")),
        Step("mkdir", (dev / "mqueue",)),
        Step("mount", ("mqueue", dev / "mqueue", "mqueue", NOSUID_NODEV_NOEXEC, None)),
    ]
    steps += _device_steps(spec, paths.rootfs)
    if paths.console:
        # a tty container: its pty comes from its own devpts (the first one: pts/0), and
        # shows as /dev/console too, as runc does
        steps += [Step("openpty", (dev / "pts/ptmx",)),
                  Step("touch", (dev / "console",)),
                  Step("mount", (_in(paths.rootfs, paths.console), dev / "console", None,
                                 sc.MS_BIND, None))]
    return steps


def _device_steps(spec: ContainerSpec, root: str) -> list[Step]:
    """The host devices given to the container (`--device`): a node each, with the host
    node's mode and owner, where the container asked (its folders made first)."""
    steps: list[Step] = []
    for d in getattr(spec, "devices", []):
        target = _in(root, d.path)
        kind = stat.S_IFBLK if d.type == "b" else stat.S_IFCHR
        parent = os.path.dirname(os.path.normpath(d.path))
        if parent not in ("/", "/dev"):
            steps.append(Step("mkdir", (_in(root, parent),)))
        steps += [Step("mknod", (target, kind | d.file_mode, os.makedev(d.major, d.minor))),
                  Step("chmod", (target, d.file_mode)),
                  Step("chown", (target, d.uid, d.gid))]
    return steps


# A bind's propagation as mount(2) flags. The slave kinds need the container's copy of
# the host's mounts to stay slaves of them (see `receives_host_mounts`); then every bind
# says its own, as runc does.
PROPAGATION = {"rprivate": sc.MS_PRIVATE | sc.MS_REC, "private": sc.MS_PRIVATE,
               "rslave": sc.MS_SLAVE | sc.MS_REC, "slave": sc.MS_SLAVE}


def receives_host_mounts(spec: ContainerSpec) -> bool:
    """Whether a bind asks for the host's mounts below its source to reach the container."""
    return any(getattr(m, "propagation", "") in ("rslave", "slave") for m in spec.mounts)


def _user_mount_steps(root: str, m, is_dir: Callable[[str], bool], slaves: bool = False) -> list[Step]:
    target = _in(root, m.target)
    if m.type == "tmpfs":
        opts = [f"{k}={v}" for k, v in sorted(m.options.items()) if k in ("size", "mode")]
        flags = sc.MS_NOSUID | sc.MS_NODEV | (sc.MS_RDONLY if m.read_only else 0)
        return [Step("mkdir", (target,)),
                Step("mount", ("tmpfs", target, "tmpfs", flags, ",".join(opts) or None))]
    make = Step("mkdir", (target,)) if is_dir(m.source) else Step("touch", (target,))
    steps = [make, Step("mount", (m.source, target, None, sc.MS_BIND | sc.MS_REC, None))]
    if m.read_only:
        steps.append(Step("mount", (None, target, None,
                                    sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC, None)))
    propagation = getattr(m, "propagation", "") or "rprivate"
    if slaves or propagation != "rprivate":
        steps.append(Step("mount", (None, target, None, PROPAGATION[propagation], None)))
    return steps


def plan_after_pivot(spec: ContainerSpec) -> list[Step]:
    """Steps inside the new root: hide and freeze parts of /proc and /sys, then a ro root."""
    steps: list[Step] = []
    if not spec.privileged:
        for path in MASKED_DIRS:
            steps.append(Step("mount", ("tmpfs", path, "tmpfs", sc.MS_RDONLY, None), True))
        for path in MASKED_FILES:
            steps.append(Step("mount", ("/dev/null", path, None, sc.MS_BIND, None), True))
        for path in READONLY_PATHS:
            steps += [Step("mount", (path, path, None, sc.MS_BIND | sc.MS_REC, None), True),
                      Step("mount", (path, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY
                                     | sc.MS_REC | NOSUID_NODEV_NOEXEC, None), True)]
    if spec.read_only:
        steps.append(Step("mount", (None, "/", None,
                                    sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None)))
    return steps


def apply(syscalls: sc.Syscalls, steps: list[Step]) -> None:
    for step in steps:
        try:
            # resolved now, not when planned: earlier steps made and mounted the tree
            args = [a.resolve() if isinstance(a, InRoot) else a for a in step.args]
            getattr(syscalls, step.call)(*args)
        except FileNotFoundError:
            if not step.optional:
                raise
        except OSError as exc:
            if step.optional and exc.errno in (2, 20):  # ENOENT, ENOTDIR
                continue
            raise
