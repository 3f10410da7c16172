"""Volumes: named volumes as PersistentVolumeClaims, tmpfs as memory-backed
`emptyDir`, anonymous volumes as `emptyDir`, bind mounts refused (or `hostPath` with
the explicit flag: a host path rarely exists on a cluster's nodes).

A named volume is one volume every replica and every service shares, so it becomes
one claim named after it (ReadWriteOnce when one service mounts it, ReadWriteMany
when several do). A StatefulSet (chosen explicitly) gets its own volumes instead as
`volumeClaimTemplates`: one volume per replica, which is why it is never automatic.
"""

from __future__ import annotations

from typing import Any

from stackup.errors import UserError
from stackup.kube import quantities
from stackup.kube.model import Context, Document
from stackup.kube.names import object_name

DEFAULT_SIZE = "1Gi"


def users(model: dict[str, Any]) -> dict[str, list[str]]:
    """Named volume -> the services that mount it."""
    found: dict[str, list[str]] = {}
    for service, config in sorted(model.get("services", {}).items()):
        for mount in config.get("volumes") or []:
            if mount.get("type") == "volume" and mount.get("source"):
                found.setdefault(mount["source"], [])
                if service not in found[mount["source"]]:
                    found[mount["source"]].append(service)
    return found


def claim_name(key: str) -> str:
    return object_name(key, "volume")


def claim_spec(ctx: Context, key: str, shared: bool) -> dict[str, Any]:
    resource = (ctx.model.get("volumes") or {}).get(key) or {}
    where = f"volume {key}"
    if resource.get("driver") not in (None, "local"):
        ctx.warn(where, f"driver {resource['driver']} has no Kubernetes equivalent (the cluster's default "
                 "storage class is asked)")
    if resource.get("driver_opts"):
        ctx.warn(where, "driver_opts have no Kubernetes equivalent (left out)")
    return {"accessModes": ["ReadWriteMany" if shared else "ReadWriteOnce"],
            "resources": {"requests": {"storage": DEFAULT_SIZE}}}


def claims(ctx: Context, templated: set[str]) -> list[Document]:
    """A claim per named volume that a service mounts, except those a StatefulSet
    owns (`templated`) and external ones (which must exist: warned)."""
    documents = []
    for key, services in users(ctx.model).items():
        if key in templated:
            continue
        resource = (ctx.model.get("volumes") or {}).get(key) or {}
        if resource.get("external"):
            ctx.warn(f"volume {key}", f"external: the cluster must already have a claim named {claim_name(key)}")
            continue
        documents.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": ctx.metadata(claim_name(key)),
                          "spec": claim_spec(ctx, key, len(services) > 1)})
    return documents


def pod_volumes(ctx: Context, service: str, config: dict[str, Any],
                templated: set[str]) -> tuple[list[Document], list[Document]]:
    """(volumes, volumeMounts) of the service's `volumes` and `tmpfs`."""
    volumes: list[Document] = []
    mounts: list[Document] = []
    where = f"service {service}"
    for index, mount in enumerate(config.get("volumes") or []):
        kind, target = mount.get("type"), mount.get("target")
        entry: dict[str, Any] = {"mountPath": target}
        if mount.get("read_only"):
            entry["readOnly"] = True
        if kind == "volume" and mount.get("source"):
            key = mount["source"]
            name = claim_name(key)
            if key not in templated and all(v["name"] != name for v in volumes):
                volumes.append({"name": name, "persistentVolumeClaim": {"claimName": name}})
            subpath = (mount.get("volume") or {}).get("subpath")
            if subpath:
                entry["subPath"] = subpath
            if (mount.get("volume") or {}).get("nocopy"):
                ctx.warn(where, f"volume {key}: nocopy is what Kubernetes always does (the image's files "
                         "are never copied into a claim)")
        elif kind == "volume":  # anonymous: lives and dies with the container, as emptyDir with the pod
            name = f"anonymous-{index}"
            volumes.append({"name": name, "emptyDir": {}})
        elif kind == "tmpfs":
            name = f"tmpfs-{index}"
            volumes.append({"name": name, "emptyDir": _memory(ctx, where, mount.get("tmpfs") or {})})
        elif kind == "bind":
            name = f"host-{index}"
            volumes.append({"name": name, "hostPath": _host_path(ctx, service, mount)})
        else:
            ctx.warn(where, f"a volume of type {kind} at {target} has no Kubernetes equivalent (left out)")
            continue
        entry["name"] = name
        mounts.append(entry)
    for index, spec in enumerate(_tmpfs_list(config.get("tmpfs"))):
        path, _, options = spec.partition(":")
        name = f"tmpfs-{len(config.get('volumes') or []) + index}"
        size = next((o.split("=", 1)[1] for o in options.split(",") if o.startswith("size=")), None)
        volumes.append({"name": name, "emptyDir": _memory(ctx, where, {"size": size} if size else {})})
        mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def templates(ctx: Context, service: str, config: dict[str, Any], owned: set[str]) -> list[Document]:
    """volumeClaimTemplates of a StatefulSet for the named volumes it owns."""
    found: list[Document] = []
    for mount in config.get("volumes") or []:
        key = mount.get("source")
        if mount.get("type") == "volume" and key in owned and all(t["metadata"]["name"] != claim_name(key)
                                                                  for t in found):
            found.append({"metadata": {"name": claim_name(key)}, "spec": claim_spec(ctx, key, False)})
    return found


def _tmpfs_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _memory(ctx: Context, where: str, tmpfs: dict[str, Any]) -> dict[str, Any]:
    volume: dict[str, Any] = {"medium": "Memory"}
    if tmpfs.get("size") not in (None, "", "0", 0):
        volume["sizeLimit"] = quantities.memory(tmpfs["size"], where)
    if tmpfs.get("mode") is not None:
        ctx.warn(where, "tmpfs mode has no Kubernetes equivalent (left out)")
    return volume


def _host_path(ctx: Context, service: str, mount: dict[str, Any]) -> dict[str, Any]:
    if not ctx.options.allow_host_path:
        raise UserError(f"service {service}: bind mount {mount.get('source')}:{mount.get('target')} has no "
                        "place on a cluster (use a volume, or --allow-host-path to map it to hostPath)")
    ctx.warn(f"service {service}", f"bind mount {mount.get('source')} is a hostPath: it must exist on "
             "every node that runs the service")
    host: dict[str, Any] = {"path": mount.get("source")}
    if (mount.get("bind") or {}).get("create_host_path"):
        host["type"] = "DirectoryOrCreate"
    return host
