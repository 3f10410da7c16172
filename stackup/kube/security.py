"""`cap_add`, `cap_drop`, `privileged`, `read_only`, `user`, `group_add` and `sysctls`
as security contexts (the container's and the pod's)."""

from __future__ import annotations

from typing import Any

from stackup.kube.model import Context


def container_context(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    security: dict[str, Any] = {}
    capabilities = {}
    for field, key in (("cap_add", "add"), ("cap_drop", "drop")):
        names = [_capability(c) for c in config.get(field) or []]
        if names:
            capabilities[key] = names
    if capabilities:
        security["capabilities"] = capabilities
    if config.get("privileged"):
        security["privileged"] = True
    if config.get("read_only"):
        security["readOnlyRootFilesystem"] = True
    user = config.get("user")
    if user not in (None, ""):
        uid, _, gid = str(user).partition(":")
        if uid.isdigit() and (not gid or gid.isdigit()):
            security["runAsUser"] = int(uid)
            if gid:
                security["runAsGroup"] = int(gid)
        else:
            ctx.warn(f"service {service}", f"user {user!r}: Kubernetes takes numeric ids only (left out: "
                     "the image's user runs)")
    return security


def pod_context(ctx: Context, service: str, config: dict[str, Any]) -> dict[str, Any]:
    security: dict[str, Any] = {}
    groups = config.get("group_add") or []
    numeric = [int(g) for g in groups if str(g).isdigit()]
    if len(numeric) < len(groups):
        ctx.warn(f"service {service}", "group_add: Kubernetes takes numeric group ids only (names left out)")
    if numeric:
        security["supplementalGroups"] = numeric
    sysctls = config.get("sysctls") or {}
    if isinstance(sysctls, list):
        sysctls = dict(item.split("=", 1) for item in sysctls)
    if sysctls:
        security["sysctls"] = [{"name": k, "value": str(v)} for k, v in sorted(sysctls.items())]
    return security


def _capability(name: str) -> str:
    """Kubernetes names capabilities without the `CAP_` prefix, as compose allows both."""
    name = str(name).upper()
    return name[4:] if name.startswith("CAP_") else name
