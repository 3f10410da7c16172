"""Resource limits and reservations: `deploy.resources.limits` (and the service-level
`cpus`, `mem_limit`) as `limits`, `deploy.resources.reservations` (and
`mem_reservation`) as `requests`, in Kubernetes units (`500m`, `256Mi`)."""

from __future__ import annotations

from typing import Any

from stackup.kube import quantities
from stackup.kube.model import Context


def resources(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    where = f"service {service}"
    deploy = (config.get("deploy") or {}).get("resources") or {}
    limits = dict(deploy.get("limits") or {})
    reservations = dict(deploy.get("reservations") or {})
    if config.get("cpus") not in (None, 0, "0"):
        limits.setdefault("cpus", config["cpus"])
    if config.get("mem_limit") not in (None, 0, "0"):
        limits.setdefault("memory", config["mem_limit"])
    if config.get("mem_reservation") not in (None, 0, "0"):
        reservations.setdefault("memory", config["mem_reservation"])
    result = {}
    for key, values in (("limits", limits), ("requests", reservations)):
        mapped = _quantities(ctx, where, key, values)
        if mapped:
            result[key] = mapped
    return result


def _quantities(ctx: Context, where: str, key: str, values: dict[str, Any]) -> dict[str, str]:
    mapped = {}
    if values.get("cpus") not in (None, 0, "0"):
        mapped["cpu"] = quantities.cpu(values["cpus"], where)
    if values.get("memory") not in (None, 0, "0"):
        mapped["memory"] = quantities.memory(values["memory"], where)
    for other in sorted(set(values) - {"cpus", "memory"}):
        if values[other] not in (None, [], {}):
            ctx.warn(where, f"resources {key}: {other} has no Kubernetes equivalent (left out)")
    return mapped
