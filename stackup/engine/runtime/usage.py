"""Resource usage of a container from its cgroup (v1 or v2): what `stats` samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text()
    except OSError:
        return ""


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class Sample:
    cpu_ns: int          # CPU time used so far, all CPUs
    memory: int          # bytes in use
    memory_limit: int    # 0: no limit
    pids: int
    block_read: int = 0  # bytes read from and written to block devices
    block_write: int = 0
    net_rx: int = 0      # bytes received and sent on the container's interfaces (not lo)
    net_tx: int = 0


def sample(container_id: str) -> Sample:
    from stackup.engine.runtime.cgroups import Cgroup

    cg = Cgroup(container_id)
    if cg.v2:
        base = cg.dir("unified")
        stat = {key: value for key, _, value in
                (line.partition(" ") for line in _read(_join(base, "cpu.stat")).splitlines())}
        cpu = int(stat.get("usage_usec", "0")) * 1000
        # Docker's CLI shows usage less the page cache that could be dropped (inactive_file)
        memory = _without_inactive(_int(_read(_join(base, "memory.current"))) or 0,
                                   _read(_join(base, "memory.stat")), "inactive_file")
        limit = _int(_read(_join(base, "memory.max"))) or 0
        pids = _int(_read(_join(base, "pids.current"))) or 0
        reads, writes = _io_stat(_read(_join(base, "io.stat")))
        procs = _read(_join(base, "cgroup.procs"))
    else:
        cpu = _int(_read(_join(cg.dir("cpuacct"), "cpuacct.usage"))) or 0
        memory = _without_inactive(_int(_read(_join(cg.dir("memory"), "memory.usage_in_bytes"))) or 0,
                                   _read(_join(cg.dir("memory"), "memory.stat")), "total_inactive_file")
        limit = _int(_read(_join(cg.dir("memory"), "memory.limit_in_bytes"))) or 0
        if limit >= 1 << 62:  # v1 writes "no limit" as a huge number
            limit = 0
        pids = _int(_read(_join(cg.dir("pids"), "pids.current"))) or 0
        reads, writes = _blkio(_read(_join(cg.dir("blkio"), "blkio.throttle.io_service_bytes_recursive")))
        procs = _read(_join(cg.dir("pids"), "cgroup.procs"))
    rx, tx = _net_dev(procs.split()[0] if procs.split() else "")
    return Sample(cpu, memory, limit, pids, reads, writes, rx, tx)


def host_memory() -> int:
    """The host's memory in bytes: the limit Docker reports for a container without one."""
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _without_inactive(usage: int, stat: str, key: str) -> int:
    for line in stat.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit() and int(value) < usage:
            return usage - int(value)
    return usage


def _io_stat(text: str) -> tuple[int, int]:
    """cgroup v2 io.stat: `8:0 rbytes=1 wbytes=2 ...` per device, summed."""
    reads = writes = 0
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        reads += int(fields.get("rbytes", "0"))
        writes += int(fields.get("wbytes", "0"))
    return reads, writes


def _blkio(text: str) -> tuple[int, int]:
    """cgroup v1 blkio: `8:0 Read 123` lines, summed."""
    totals = {"Read": 0, "Write": 0}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in totals and parts[2].isdigit():
            totals[parts[1]] += int(parts[2])
    return totals["Read"], totals["Write"]


def _net_dev(pid: str) -> tuple[int, int]:
    """Bytes received and sent on the interfaces of the process's network namespace."""
    rx = tx = 0
    for line in _read(Path(f"/proc/{pid}/net/dev") if pid.isdigit() else None).splitlines()[2:]:
        name, _, counters = line.partition(":")
        values = counters.split()
        if name.strip() != "lo" and len(values) >= 9:
            rx += int(values[0])
            tx += int(values[8])
    return rx, tx


def _join(base: Path | None, name: str) -> Path | None:
    return None if base is None else base / name
