"""The cgroup knobs beyond the basic limits, as the file writes v1 or v2 needs (pure).

CPU period and quota, real-time period and runtime, cpuset, block I/O weight and rates,
memory reservation and swappiness, and the OOM killer switch: the options of
`docker run` (and compose) that runc writes as cgroup files. `writes` turns them into
(controller, file, value, optional) rows; `stackup.engine.runtime.cgroups` performs
them. An optional row is skipped when the kernel lacks its file, as Docker discards
such an option with a warning (block I/O weight without the BFQ scheduler, say).
What v2 has no file for at all (real-time groups) is refused; what Docker discards on
v2 (swappiness, the OOM killer switch) is left out there too.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from collections.abc import Callable
from typing import Any

from stackup.errors import UnsupportedError, UserError

DEFAULT_PERIOD = 100_000
RATES = ("device_read_bps", "device_read_iops", "device_write_bps", "device_write_iops")
V1_RATE_FILES = {"device_read_bps": "blkio.throttle.read_bps_device",
                 "device_read_iops": "blkio.throttle.read_iops_device",
                 "device_write_bps": "blkio.throttle.write_bps_device",
                 "device_write_iops": "blkio.throttle.write_iops_device"}
V2_RATE_KEYS = {"device_read_bps": "rbps", "device_read_iops": "riops",
                "device_write_bps": "wbps", "device_write_iops": "wiops"}

Write = tuple[str, str, str, bool]  # controller, file, value, optional
Resolve = Callable[[str], str]      # a device path -> major:minor


@dataclass
class Knobs:
    """Plain data (in the container spec). Devices are host paths, resolved to
    major:minor when the cgroup is made (as the daemon does at create)."""

    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_rt_period: int = 0
    cpu_rt_runtime: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    blkio_weight: int = 0
    blkio_weight_device: list[list[Any]] = field(default_factory=list)  # [path, weight]
    device_read_bps: list[list[Any]] = field(default_factory=list)       # [path, rate]
    device_read_iops: list[list[Any]] = field(default_factory=list)
    device_write_bps: list[list[Any]] = field(default_factory=list)
    device_write_iops: list[list[Any]] = field(default_factory=list)
    memory_reservation: int = 0
    memory_swappiness: int = -1  # -1: the kernel's (unset)
    oom_kill_disable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Knobs:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def validate(knobs: Knobs, cpus: float = 0.0) -> None:
    """Docker's checks at create, before anything is made."""
    if cpus and (knobs.cpu_period or knobs.cpu_quota):
        raise UserError("conflicting options: cpus and cpu_period/cpu_quota cannot both be set")
    if knobs.cpu_period and not 1000 <= knobs.cpu_period <= 1_000_000:
        raise UserError(f"cpu_period {knobs.cpu_period} must be between 1000 and 1000000 (µs)")
    if knobs.cpu_quota and knobs.cpu_quota != -1 and knobs.cpu_quota < 1000:
        raise UserError(f"cpu_quota {knobs.cpu_quota} must be at least 1000 (µs), or -1")
    if knobs.cpu_rt_runtime and knobs.cpu_rt_period and knobs.cpu_rt_runtime > knobs.cpu_rt_period:
        raise UserError("cpu_rt_runtime must not exceed cpu_rt_period")
    if knobs.blkio_weight and not 10 <= knobs.blkio_weight <= 1000:
        raise UserError(f"blkio_config.weight {knobs.blkio_weight} must be between 10 and 1000")
    for path, weight in knobs.blkio_weight_device:
        if not 10 <= int(weight) <= 1000:
            raise UserError(f"blkio_config.weight_device {path}: weight {weight} must be between 10 and 1000")
    if knobs.memory_swappiness != -1 and not 0 <= knobs.memory_swappiness <= 100:
        raise UserError(f"mem_swappiness {knobs.memory_swappiness} must be between 0 and 100")
    for name in ("cpuset_cpus", "cpuset_mems"):
        value = getattr(knobs, name)
        if value and not all(part.replace("-", "", 1).isdigit() for part in value.split(",")):
            raise UserError(f"cpuset {value!r} must be a list such as 0-3 or 0,2")


def device_number(path: str) -> str:
    """major:minor of a block device node (what the cgroup files take)."""
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        raise UserError(f"blkio_config: device {path}: {exc.strerror}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise UserError(f"blkio_config: {path} is not a block device")
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def writes(knobs: Knobs, v2: bool, device: Resolve = device_number) -> list[Write]:
    """The files to write, in order, for the hierarchy kind."""
    return _v2(knobs, device) if v2 else _v1(knobs, device)


def _v1(k: Knobs, device: Resolve) -> list[Write]:
    out: list[Write] = []
    # the period first: a quota is checked against the period in place
    if k.cpu_period:
        out.append(("cpu", "cpu.cfs_period_us", str(k.cpu_period), False))
    if k.cpu_quota:
        out.append(("cpu", "cpu.cfs_quota_us", str(k.cpu_quota), False))
    if k.cpu_rt_period:
        out.append(("cpu", "cpu.rt_period_us", str(k.cpu_rt_period), False))
    if k.cpu_rt_runtime:
        out.append(("cpu", "cpu.rt_runtime_us", str(k.cpu_rt_runtime), False))
    if k.cpuset_cpus:
        out.append(("cpuset", "cpuset.cpus", k.cpuset_cpus, False))
    if k.cpuset_mems:
        out.append(("cpuset", "cpuset.mems", k.cpuset_mems, False))
    if k.blkio_weight:
        out.append(("blkio", "blkio.weight", str(k.blkio_weight), True))
    for path, weight in k.blkio_weight_device:
        out.append(("blkio", "blkio.weight_device", f"{device(path)} {int(weight)}", True))
    for name in RATES:
        for path, rate in getattr(k, name):
            out.append(("blkio", V1_RATE_FILES[name], f"{device(path)} {int(rate)}", False))
    if k.memory_reservation:
        out.append(("memory", "memory.soft_limit_in_bytes", str(k.memory_reservation), False))
    if k.memory_swappiness != -1:
        out.append(("memory", "memory.swappiness", str(k.memory_swappiness), False))
    if k.oom_kill_disable:
        out.append(("memory", "memory.oom_control", "1", False))
    return out


def io_weight(weight: int) -> int:
    """A blkio weight (10-1000) on v2's io.weight scale (1-10000), as runc converts it."""
    return 1 + (weight - 10) * 9999 // 990


def _v2(k: Knobs, device: Resolve) -> list[Write]:
    if k.cpu_rt_period or k.cpu_rt_runtime:
        raise UnsupportedError("cpu_rt_period and cpu_rt_runtime need cgroup v1's real-time "
                               "groups; this host runs cgroup v2, which has none")
    out: list[Write] = []
    if k.cpu_period or k.cpu_quota:
        quota = "max" if k.cpu_quota in (0, -1) else str(k.cpu_quota)
        out.append(("unified", "cpu.max", f"{quota} {k.cpu_period or DEFAULT_PERIOD}", False))
    if k.cpuset_cpus:
        out.append(("unified", "cpuset.cpus", k.cpuset_cpus, False))
    if k.cpuset_mems:
        out.append(("unified", "cpuset.mems", k.cpuset_mems, False))
    # io.bfq.weight where the BFQ scheduler is in use (same scale), else io.weight
    if k.blkio_weight:
        out.append(("unified", "io.bfq.weight", str(k.blkio_weight), True))
        out.append(("unified", "io.weight", f"default {io_weight(k.blkio_weight)}", True))
    for path, weight in k.blkio_weight_device:
        out.append(("unified", "io.bfq.weight", f"{device(path)} {int(weight)}", True))
        out.append(("unified", "io.weight", f"{device(path)} {io_weight(int(weight))}", True))
    for name in RATES:
        for path, rate in getattr(k, name):
            out.append(("unified", "io.max", f"{device(path)} {V2_RATE_KEYS[name]}={int(rate)}", False))
    if k.memory_reservation:
        out.append(("unified", "memory.low", str(k.memory_reservation), False))
    return out
