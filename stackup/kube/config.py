"""Environment, `configs` and `secrets` as ConfigMaps and Secrets.

A service's environment (its `environment` with its `env_file`s merged in, as the
normalized model has it) becomes one ConfigMap `<service>-env`, read with `envFrom`.
A top-level config becomes a ConfigMap, a secret a Secret, each with one key (the
resource's name) and mounted as a file at the service's target with `subPath`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from stackup.errors import UserError
from stackup.kube.model import Context, Document
from stackup.kube.names import object_name

# A ConfigMap key (and so an envFrom variable): letters, digits, `-`, `_`, `.`.
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def env_configmap(ctx: Context, service: str, name: str, config: dict[str, Any]) -> Document | None:
    """The service's environment as a ConfigMap (None when it has none)."""
    data: dict[str, str] = {}
    for key, value in sorted((config.get("environment") or {}).items()):
        if value is None:
            ctx.warn(f"service {service}", f"environment {key} has no value (left out)")
        elif not _KEY.match(key):
            ctx.warn(f"service {service}", f"environment {key!r} is not a valid ConfigMap key (left out)")
        else:
            data[key] = str(value)
    if not data:
        return None
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ctx.metadata(f"{name}-env", name),
            "data": data}


def file_resources(ctx: Context) -> list[Document]:
    """One ConfigMap per top-level config and one Secret per top-level secret that a
    service uses (external ones must already exist in the cluster: named in a warning)."""
    used = {kind: {_source(ref) for s in ctx.model.get("services", {}).values() for ref in s.get(kind) or []}
            for kind in ("configs", "secrets")}
    documents = []
    for kind in ("configs", "secrets"):
        for key, resource in sorted((ctx.model.get(kind) or {}).items()):
            if key not in used[kind]:
                continue
            where = f"{kind[:-1]} {key}"
            if resource.get("external"):
                ctx.warn(where, f"external: the cluster must already have a "
                         f"{'ConfigMap' if kind == 'configs' else 'Secret'} named {resource_name(key)}")
                continue
            content = _content(ctx, where, resource)
            documents.append(_document(ctx, kind, key, content))
    return documents


def resource_name(key: str) -> str:
    return object_name(key, "config or secret")


def _source(ref: Any) -> str:
    return ref if isinstance(ref, str) else str(ref.get("source"))


def _content(ctx: Context, where: str, resource: dict[str, Any]) -> bytes:
    if resource.get("content") is not None:
        return str(resource["content"]).encode()
    if resource.get("environment"):
        variable = resource["environment"]
        if variable not in ctx.options.environ:
            raise UserError(f"{where}: environment variable {variable} is not set")
        return ctx.options.environ[variable].encode()
    if resource.get("file"):
        try:
            return ctx.options.read_file(resource["file"])
        except OSError as exc:
            raise UserError(f"{where}: {resource['file']}: {exc.strerror}") from None
    raise UserError(f"{where}: has no file, environment or content")


def _document(ctx: Context, kind: str, key: str, content: bytes) -> Document:
    name = resource_name(key)
    meta = ctx.metadata(name)
    if kind == "secrets":
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
                "data": {key: base64.b64encode(content).decode()}}
    try:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {key: content.decode()}}
    except UnicodeDecodeError:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                "binaryData": {key: base64.b64encode(content).decode()}}


def file_mounts(ctx: Context, service: str, config: dict[str, Any]) -> tuple[list[Document], list[Document]]:
    """(volumes, volumeMounts) of the service's configs and secrets: each file at its
    target, with its mode; `uid`/`gid` have no per-file equivalent (warned)."""
    volumes: list[Document] = []
    mounts: list[Document] = []
    for kind in ("configs", "secrets"):
        for ref in config.get(kind) or []:
            ref = {"source": ref} if isinstance(ref, str) else ref
            key = str(ref["source"])
            target = ref.get("target") or (f"/run/secrets/{key}" if kind == "secrets" else f"/{key}")
            if not target.startswith("/"):
                target = (f"/run/secrets/{target}" if kind == "secrets" else f"/{target}")
            if ref.get("uid") or ref.get("gid"):
                ctx.warn(f"service {service}", f"{kind[:-1]} {key}: uid/gid have no Kubernetes equivalent (left out)")
            volume_name = f"{kind[:-1]}-{resource_name(key)}"
            item: dict[str, Any] = {"key": key, "path": key}
            if ref.get("mode") is not None:
                item["mode"] = _mode(ref["mode"])
            source: dict[str, Any] = {"items": [item]}
            if kind == "secrets":
                volume: dict[str, Any] = {"name": volume_name, "secret": {"secretName": resource_name(key), **source}}
            else:
                volume = {"name": volume_name, "configMap": {"name": resource_name(key), **source}}
            if all(v["name"] != volume_name for v in volumes):
                volumes.append(volume)
            mounts.append({"name": volume_name, "mountPath": target, "subPath": key, "readOnly": True})
    return volumes, mounts


def _mode(value: Any) -> int:
    """Compose writes modes in octal (`0440` or the number 288)."""
    if isinstance(value, str):
        return int(value, 8)
    return int(value)
