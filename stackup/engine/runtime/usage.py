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


def sample(container_id: str) -> Sample:
    from stackup.engine.runtime.cgroups import Cgroup

    cg = Cgroup(container_id)
    if cg.v2:
        base = cg.dir("unified")
        stat = {key: value for key, _, value in
                (line.partition(" ") for line in _read(_join(base, "cpu.stat")).splitlines())}
        cpu = int(stat.get("usage_usec", "0")) * 1000
        memory = _int(_read(_join(base, "memory.current"))) or 0
        limit = _int(_read(_join(base, "memory.max"))) or 0
        pids = _int(_read(_join(base, "pids.current"))) or 0
    else:
        cpu = _int(_read(_join(cg.dir("cpuacct"), "cpuacct.usage"))) or 0
        memory = _int(_read(_join(cg.dir("memory"), "memory.usage_in_bytes"))) or 0
        limit = _int(_read(_join(cg.dir("memory"), "memory.limit_in_bytes"))) or 0
        if limit >= 1 << 62:  # v1 writes "no limit" as a huge number
            limit = 0
        pids = _int(_read(_join(cg.dir("pids"), "pids.current"))) or 0
    return Sample(cpu, memory, limit, pids)


def _join(base: Path | None, name: str) -> Path | None:
    return None if base is None else base / name
