"""Control groups for containers: v1 (one hierarchy per controller) or v2, found at run time.

Each container gets `stackup/<id>` in every hierarchy it uses. Limits: memory (and
memory+swap), CPU quota from `cpus`, CPU shares, pids; the freezer pauses; OOM kills
are read back from the memory controller. Both get Docker's device allow list: v1
writes devices.allow, v2 attaches a BPF device program (`devfilter`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from stackup.engine.runtime import cgknobs, cgpaths, devfilter

CGROUP_ROOT = Path(cgpaths.CGROUP_ROOT)
CPU_PERIOD = 100_000

# Docker's default device rules (v1 devices.allow syntax).
DEVICE_ALLOW = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
                "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
                "c 10:200 rwm"]


is_v2 = cgpaths.is_v2
container_mounts = cgpaths.container_mounts


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _rt_budget(d: Path, runtime: int) -> None:
    """A v1 group's real-time runtime comes out of its parent's, which starts at 0:
    the parent gets enough for its children's and this one's."""
    parent = d.parent / "cpu.rt_runtime_us"
    others = sum(int(_read(c / "cpu.rt_runtime_us") or 0) for c in d.parent.iterdir()
                 if c.is_dir() and c != d)
    if int(_read(parent) or 0) < others + runtime:
        _write(parent, str(others + runtime))


class Cgroup:
    """The cgroup(s) of one container."""

    def __init__(self, container_id: str):
        self.id = container_id
        self.v2 = is_v2()
        self.dirs = {k: Path(v) for k, v in cgpaths.container_dirs(container_id).items()}

    def dir(self, controller: str) -> Path | None:
        return self.dirs.get("unified" if self.v2 else controller)

    def paths(self) -> list[Path]:
        return sorted(set(self.dirs.values()))

    def exists(self) -> bool:
        return any(p.exists() for p in self.paths())

    # --- creation and limits -------------------------------------------------------
    def create(self, memory: int = 0, memory_swap: int = 0, cpus: float = 0.0,
               cpu_shares: int = 0, pids_limit: int = 0, privileged: bool = False,
               knobs: cgknobs.Knobs | None = None) -> None:
        # resolved before anything is made: a missing device is the caller's error
        extra = cgknobs.writes(knobs, self.v2) if knobs else []
        for attempt in range(3):
            try:
                if self.v2:
                    self._enable_v2_controllers()
                for path in self.paths():
                    path.mkdir(parents=True, exist_ok=True)
                break
            except FileNotFoundError:  # the last container's `rm` took the parent away
                if attempt == 2:
                    raise
        if not self.v2 and self.dir("cpuset"):
            self._inherit_cpuset()
        swap_total = memory_swap if memory_swap else (2 * memory if memory else 0)
        if self.v2:
            self._limits_v2(memory, swap_total, cpus, cpu_shares, pids_limit, privileged)
        else:
            self._limits_v1(memory, swap_total, cpus, cpu_shares, pids_limit, privileged)
        self._knobs(extra)

    def _knobs(self, extra: list[cgknobs.Write]) -> None:
        for controller, name, value, optional in extra:
            d = self.dir(controller)
            if d is None or (optional and not (d / name).exists()):
                continue  # discarded, as Docker does where the kernel lacks the file
            if name == "cpu.rt_runtime_us":
                _rt_budget(d, int(value))
            _write(d / name, value)

    def _inherit_cpuset(self) -> None:
        """A new v1 cpuset group starts with no CPUs and no memory nodes (no task could
        join it): each level from the hierarchy's root down takes its parent's."""
        d = self.dir("cpuset")
        assert d is not None
        levels = [d.parent, d]
        for level in levels:
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _read(level / name).strip():
                    _write(level / name, _read(level.parent / name).strip() or "\n")

    def _enable_v2_controllers(self) -> None:
        """Each level from the root down to the containers' parent hands the controllers
        on to its children (v2 enables a controller for a group's children only). A
        level this process may not write (the root, above a delegated subtree) is left
        as it is: whoever delegated the subtree enabled what it gets."""
        level = CGROUP_ROOT
        for name in ["", *cgpaths.parent().split("/")]:
            level = level / name if name else level
            level.mkdir(exist_ok=True)
            available = _read(level / "cgroup.controllers").split()
            wanted = [c for c in ("cpu", "cpuset", "io", "memory", "pids") if c in available]
            with contextlib.suppress(OSError):
                _write(level / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))

    def _limits_v1(self, memory: int, swap_total: int, cpus: float, shares: int,
                   pids: int, privileged: bool) -> None:
        mem = self.dir("memory")
        if mem and memory:
            _write(mem / "memory.limit_in_bytes", str(memory))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes",
                       "-1" if swap_total < 0 else str(swap_total))
        cpu = self.dir("cpu")
        if cpu and cpus:
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD))
            _write(cpu / "cpu.cfs_quota_us", str(int(cpus * CPU_PERIOD)))
        if cpu and shares:
            _write(cpu / "cpu.shares", str(shares))
        pid_dir = self.dir("pids")
        if pid_dir and pids:
            _write(pid_dir / "pids.max", str(pids))
        dev = self.dir("devices")
        if dev and not privileged:
            _write(dev / "devices.deny", "a")
            for rule in DEVICE_ALLOW:
                _write(dev / "devices.allow", rule)

    def allow_devices(self, rules: list[str], privileged: bool = False) -> None:
        """Allow more devices than Docker's defaults: the rules of `--device` nodes and
        `--device-cgroup-rule` ('c 1:3 mr', devices.allow syntax). A privileged
        container has every device already.

        v1 only: on v2 the device controller is an eBPF program attached to the
        cgroup, which the engine does not load yet (nor the defaults above); until it
        does, a v2 container's devices are not restricted by the cgroup, as before.
        TODO(cgroup v2): hand these rules to that program when it exists."""
        dev = self.dir("devices")
        if self.v2 or dev is None or privileged:
            return
        for rule in rules:
            _write(dev / "devices.allow", rule)

    def _limits_v2(self, memory: int, swap_total: int, cpus: float, shares: int,
                   pids: int, privileged: bool) -> None:
        d = self.dirs["unified"]
        if memory:
            _write(d / "memory.max", str(memory))
            if (d / "memory.swap.max").exists():
                swap = "max" if swap_total < 0 else str(max(0, swap_total - memory))
                _write(d / "memory.swap.max", swap)
        if cpus:
            _write(d / "cpu.max", f"{int(cpus * CPU_PERIOD)} {CPU_PERIOD}")
        if shares:
            _write(d / "cpu.weight", str(1 + ((shares - 2) * 9999) // 262142))
        if pids:
            _write(d / "pids.max", str(pids))
        # Loading the program needs CAP_BPF or CAP_SYS_ADMIN; an unprivileged process in
        # a delegated subtree cannot, nor make device nodes (rootless runc skips it too).
        if not privileged and os.geteuid() == 0:
            devfilter.attach(str(d), DEVICE_ALLOW)

    # --- membership ---------------------------------------------------------------
    def add(self, pid: int) -> None:
        for path in self.paths():
            _write(path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.paths():
            found.update(int(p) for p in _read(path / "cgroup.procs").split())
        return sorted(found)

    # --- pause, OOM, teardown -----------------------------------------------------
    def freeze(self, frozen: bool) -> None:
        if self.v2:
            _write(self.dirs["unified"] / "cgroup.freeze", "1" if frozen else "0")
            want = "frozen 1" if frozen else "frozen 0"
            self._wait_for(lambda: want in _read(self.dirs["unified"] / "cgroup.events"))
            return
        d = self.dir("freezer")
        if d is None:
            from stackup.errors import UnsupportedError

            raise UnsupportedError("pause needs the cgroup freezer, which is not mounted")
        _write(d / "freezer.state", "FROZEN" if frozen else "THAWED")
        want = "FROZEN" if frozen else "THAWED"
        self._wait_for(lambda: _read(d / "freezer.state").strip() == want)

    @staticmethod
    def _wait_for(condition, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)

    def frozen(self) -> bool:
        if self.v2:
            return "frozen 1" in _read(self.dirs["unified"] / "cgroup.events")
        d = self.dir("freezer")
        return d is not None and _read(d / "freezer.state").strip() == "FROZEN"

    def oom_kills(self) -> int:
        d = self.dir("memory")
        if d is None:
            return 0
        text = _read(d / ("memory.events" if self.v2 else "memory.oom_control"))
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def cpu_quota(self) -> tuple[int, int]:
        """(quota, period) in microseconds; quota -1 when unlimited."""
        if self.v2:
            quota, period = _read(self.dirs["unified"] / "cpu.max").split()
            return (-1 if quota == "max" else int(quota)), int(period)
        d = self.dir("cpu")
        if d is None:  # no cpu controller: nothing limits the container
            return -1, 100_000
        return int(_read(d / "cpu.cfs_quota_us")), int(_read(d / "cpu.cfs_period_us"))

    def kill_all(self) -> None:
        """SIGKILL every process left in the cgroup (thawing it so they can die)."""
        if not self.exists():
            return
        if self.v2 and (self.dirs["unified"] / "cgroup.kill").exists():
            _write(self.dirs["unified"] / "cgroup.kill", "1")
        for _ in range(200):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                if self.frozen():
                    self.freeze(False)
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths():
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last task exits
                    time.sleep(0.01)
        self._remove_empty_parents()

    def _remove_empty_parents(self) -> None:
        """The `stackup` group goes with the last container in it (EBUSY while others
        remain), so nothing of stackup stays in the cgroup tree."""
        for path in self.paths():
            with contextlib.suppress(OSError):
                path.parent.rmdir()
