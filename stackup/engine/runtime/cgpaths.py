"""Where a container's cgroup directories are (stdlib `os` only: the launcher uses it)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `typing`: the launcher imports this module
if TYPE_CHECKING:
    import threading

CGROUP_ROOT = "/sys/fs/cgroup"
PARENT = "stackup"  # the default; STACKUP_CGROUP_PARENT moves it (a delegated subtree)
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "blkio", "pids", "freezer", "devices")


def is_v2():
    return os.path.exists(CGROUP_ROOT + "/cgroup.controllers")


def v1_mounts():
    """controller -> (mount point, the comounted controller list) for v1 hierarchies."""
    found = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[2] != "cgroup":
                continue
            names = [o for o in parts[3].split(",") if o in V1_CONTROLLERS]
            for name in names:
                found.setdefault(name, (parts[1], ",".join(names)))
    return found


def parent():
    """The group that holds the containers' groups, relative to each hierarchy's root:
    `stackup`, or STACKUP_CGROUP_PARENT (say, a subtree systemd delegated to a user, in
    which an unprivileged process may make groups and move its processes). Like
    STACKUP_ROOT, every command that sees the same containers must see the same value."""
    return os.environ.get("STACKUP_CGROUP_PARENT", "").strip("/") or PARENT


def container_dirs(container_id):
    """controller ('unified' on v2) -> the container's cgroup directory."""
    if is_v2():
        return {"unified": f"{CGROUP_ROOT}/{parent()}/{container_id}"}
    return {name: f"{mp}/{parent()}/{container_id}" for name, (mp, _) in v1_mounts().items()}


def container_mounts():
    """What the container sees under /sys/fs/cgroup: (fstype, controllers) per hierarchy."""
    if is_v2():
        return [("cgroup2", "")]
    return [("cgroup", names) for names in sorted({n for _, n in v1_mounts().values()})]


def join(container_id, pid):
    """Move `pid` into every cgroup directory of the container."""
    for path in sorted(set(container_dirs(container_id).values())):
        fd = os.open(path + "/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(pid).encode())
        finally:
            os.close(fd)


def oom_kills(container_id):
    """How many times the kernel's OOM killer struck in the container's cgroup so far."""
    memory = container_dirs(container_id).get("unified" if is_v2() else "memory")
    if not memory:
        return 0
    name = "memory.events" if is_v2() else "memory.oom_control"
    try:
        with open(f"{memory}/{name}") as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except OSError:
        pass
    return 0


def own_procs_file():
    """cgroup.procs of the cgroup this process is in (on one hierarchy), or None."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if is_v2() and controllers == "":
            return f"{CGROUP_ROOT}{path.rstrip('/')}/cgroup.procs"
        if not is_v2() and controllers == "pids":
            mount = v1_mounts().get("pids")
            return f"{mount[0]}{path.rstrip('/')}/cgroup.procs" if mount else None
    return None


_warming: list[threading.Thread] = []  # the warm-up thread, while it runs


def warm_up() -> None:
    """Make the next cgroup join fast, in the background.

    Moving a process between cgroups takes a global kernel lock whose first writer
    waits for an RCU grace period (about 10 ms here); writers that follow soon after
    do not. A thread rewrites this process into its own cgroup (a no-op move) while
    the caller goes on creating the container, so that PID 1's join finds the lock
    warm. Only `os` calls run in the thread (safe with the forks that follow)."""
    if _warming and _warming[0].is_alive():
        return
    path = own_procs_file()
    if not path:
        return
    import threading

    def move_self():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")  # "0": the writing process itself
            finally:
                os.close(fd)
        except OSError:
            pass

    thread = threading.Thread(target=move_self, name="cgroup-warm-up", daemon=True)
    _warming[:] = [thread]
    thread.start()
