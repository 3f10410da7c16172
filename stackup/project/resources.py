"""A service's cgroup knobs -> the engine's spec arguments (pure), as compose maps them.

compose hands these to Docker as the container's resources: `mem_reservation` or
`deploy.resources.reservations.memory` is the memory reservation (a soft limit);
reservations of CPUs are a swarm option compose leaves out for containers, and so
does stackup; `mem_swappiness: 0` counts as unset, as in compose. `cpu_count` and
`cpu_percent` (Windows' CPU limits, which Docker passes on and Linux ignores) become
a CPU quota of that many CPUs, or that share of the machine's, when `cpus` is unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stackup.errors import UserError


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: expected a number, not {value!r}") from None


def _devices(entries: Any, value_key: str, where: str) -> list[list[Any]]:
    """[{path, rate|weight}] (either case: the model keeps compose's JSON names) -> [[path, n]]."""
    out = []
    for entry in entries or []:
        path = entry.get("path", entry.get("Path"))
        value = entry.get(value_key, entry.get(value_key.capitalize()))
        out.append([str(path), _int(value, f"{where} {path}")])
    return out


def knobs(config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The `knobs` (a `cgknobs.Knobs` as a dict), `oom_score_adj` and, from cpu_count or
    cpu_percent, `cpus`: only what the service sets."""
    deploy = (config.get("deploy") or {}).get("resources") or {}
    limits, reservations = deploy.get("limits") or {}, deploy.get("reservations") or {}
    k: dict[str, Any] = {}
    for key, name in (("cpu_period", "cpu_period"), ("cpu_quota", "cpu_quota"),
                      ("cpu_rt_period", "cpu_rt_period"), ("cpu_rt_runtime", "cpu_rt_runtime")):
        if config.get(key):
            k[name] = _int(config[key], f"{where}.{key}")
    if config.get("cpuset"):
        k["cpuset_cpus"] = str(config["cpuset"])
    blkio = config.get("blkio_config") or {}
    if blkio.get("weight"):
        k["blkio_weight"] = _int(blkio["weight"], f"{where}.blkio_config.weight")
    if blkio.get("weight_device"):
        k["blkio_weight_device"] = _devices(blkio["weight_device"], "weight",
                                            f"{where}.blkio_config.weight_device")
    for name in ("device_read_bps", "device_read_iops", "device_write_bps", "device_write_iops"):
        if blkio.get(name):
            k[name] = _devices(blkio[name], "rate", f"{where}.blkio_config.{name}")
    reservation = config.get("mem_reservation") or reservations.get("memory")
    if reservation:
        k["memory_reservation"] = _int(reservation, f"{where}.mem_reservation")
    if config.get("mem_swappiness"):
        k["memory_swappiness"] = _int(config["mem_swappiness"], f"{where}.mem_swappiness")
    if config.get("oom_kill_disable"):
        k["oom_kill_disable"] = True
    out: dict[str, Any] = {"knobs": k} if k else {}
    if config.get("oom_score_adj"):
        out["oom_score_adj"] = _int(config["oom_score_adj"], f"{where}.oom_score_adj")
    if not (config.get("cpus") or limits.get("cpus")):
        if config.get("cpu_count"):
            out["cpus"] = float(_int(config["cpu_count"], f"{where}.cpu_count"))
        elif config.get("cpu_percent"):
            percent = float(config["cpu_percent"])
            if not 0 < percent <= 100:
                raise UserError(f"{where}.cpu_percent: {config['cpu_percent']} is not between 1 and 100")
            out["cpus"] = round((os.cpu_count() or 1) * percent / 100, 2)
    return out
