"""Which compose attributes the mapping carries over: the one table the warnings
for everything else come from, so that nothing is dropped silently."""

from __future__ import annotations

from typing import Any

from stackup.kube.model import Context

# Service attributes some module maps (or reports on itself).
MAPPED = frozenset({
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes",
    "tmpfs", "depends_on", "healthcheck", "restart", "working_dir", "user", "hostname", "labels",
    "stop_grace_period", "read_only", "privileged", "cap_add", "cap_drop", "sysctls", "mem_limit",
    "mem_reservation", "cpus", "deploy", "scale", "extra_hosts", "tty", "stdin_open", "pull_policy",
    "platform", "secrets", "configs", "group_add", "pid", "ipc",
})
# What the normalized model always holds and the mapping has no use for: not worth a warning.
QUIET = frozenset({"profiles", "networks", "links"})
DEPLOY_MAPPED = frozenset({"replicas", "resources", "labels", "restart_policy", "mode", "placement"})


def unmapped(ctx: Context, service: str, config: dict[str, Any]) -> None:
    """Warn about every attribute of the service that has no mapping."""
    where = f"service {service}"
    for key in sorted(config):
        value = config[key]
        if key in MAPPED or key in QUIET or key.startswith("x-") or value in (None, [], {}, False):
            continue
        ctx.warn(where, f"{key} has no Kubernetes equivalent (left out)")
    deploy = config.get("deploy") or {}
    for key in sorted(set(deploy) - DEPLOY_MAPPED):
        if deploy[key] not in (None, [], {}):
            ctx.warn(where, f"deploy.{key} has no Kubernetes equivalent (left out)")
    if deploy.get("mode") not in (None, "replicated"):
        ctx.warn(where, f"deploy.mode {deploy['mode']} is not mapped (a DaemonSet would be): replicated")
    if (deploy.get("placement") or {}).get("constraints") or (deploy.get("placement") or {}).get("preferences"):
        ctx.warn(where, "deploy.placement has no faithful mapping (node labels differ): left out")
    networks = config.get("networks") or {}
    aliases = [a for n in networks.values() if n for a in (n.get("aliases") or [])]
    if aliases:
        ctx.warn(where, f"network aliases {', '.join(aliases)} are not Services of their own (left out)")
    if config.get("links"):
        ctx.warn(where, "links: services reach each other by their Service names (link aliases left out)")


def networks(ctx: Context) -> None:
    """A cluster's pods share one flat network: compose networks isolate nothing there."""
    names = sorted(ctx.model.get("networks") or {})
    if [n for n in names if n != "default"]:
        ctx.warn("networks", f"{', '.join(names)}: every pod reaches every other on a cluster (a NetworkPolicy "
                 "would isolate them; not generated)")
