"""A Deployment (or a StatefulSet, chosen explicitly) per service: its pod template
holds the container (image, command, environment, ports), its probes, resources,
security contexts, volumes and the init containers that wait for dependencies.

`replicas` comes from `deploy.replicas` or `scale`. A Deployment holding a claim
replaces its pods with `strategy: Recreate` (a ReadWriteOnce claim cannot be held by
the old and new pods at once). Deployments restart containers always: `restart:
always`/`unless-stopped` map to that, `no` and `on-failure` have no Deployment
equivalent (warned).
"""

from __future__ import annotations

import shlex
from typing import Any

from stackup.kube import config as configs
from stackup.kube import probes, resources, security, volumes, waits
from stackup.kube.model import Context, Document
from stackup.kube.names import selector, valid_label
from stackup.kube.quantities import seconds

# podman's `kube play` (4.3) removes a run-once init container right after it exits and
# sometimes finds it still running, failing the whole play: kept ones (`always`) have no
# such race. Kubernetes ignores this annotation (and re-runs init containers on a pod
# restart, as podman does with `always`).
PODMAN_INIT_TYPE = "io.podman.annotations.init.container.type"

PULL_POLICIES = {"always": "Always", "never": "Never", "missing": "IfNotPresent", "if_not_present": "IfNotPresent"}


def workload(ctx: Context, service: str, name: str, config: dict[str, Any],
             owned: set[str]) -> Document:
    """The service's Deployment, or StatefulSet when it was chosen as one (then the
    named volumes it alone mounts, `owned`, become its volumeClaimTemplates)."""
    stateful = service in ctx.options.statefulsets
    labels, annotations = _labels(ctx, service, config)
    meta = ctx.metadata(name, name, labels)
    template_meta: dict[str, Any] = {"labels": dict(meta["labels"])}
    pod = pod_spec(ctx, service, name, config, owned if stateful else set())
    if pod.get("initContainers"):
        annotations[PODMAN_INIT_TYPE] = "always"  # podman reads it on the Deployment itself
    if annotations:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {"replicas": replicas(config), "selector": {"matchLabels": selector(name)},
                            "template": {"metadata": template_meta, "spec": pod}}
    if stateful:
        spec = {"serviceName": name, **spec}
        claim_templates = volumes.templates(ctx, service, config, owned)
        if claim_templates:
            spec["volumeClaimTemplates"] = claim_templates
            if spec["replicas"] > 1:
                ctx.warn(f"service {service}", "each replica of the StatefulSet gets volumes of its own "
                         "(compose's replicas share one)")
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec}
    if any("persistentVolumeClaim" in v for v in pod.get("volumes", [])):
        spec["strategy"] = {"type": "Recreate"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def replicas(config: dict[str, Any]) -> int:
    deploy = config.get("deploy") or {}
    for value in (deploy.get("replicas"), config.get("scale")):
        if value not in (None, ""):
            return int(value)
    return 1


def pod_spec(ctx: Context, service: str, name: str, config: dict[str, Any], owned: set[str]) -> dict[str, Any]:
    where = f"service {service}"
    container = _container(ctx, service, name, config)
    pod_volumes, mounts = volumes.pod_volumes(ctx, service, config, owned)
    file_volumes, file_mounts = configs.file_mounts(ctx, service, config)
    if mounts or file_mounts:
        container["volumeMounts"] = mounts + file_mounts
    pod: dict[str, Any] = {}
    init = waits.init_containers(ctx, service, config)
    if init:
        pod["initContainers"] = init
    pod["containers"] = [container]
    _restart(ctx, where, config)
    pod_security = security.pod_context(ctx, service, config)
    if pod_security:
        pod["securityContext"] = pod_security
    if config.get("hostname"):
        pod["hostname"] = config["hostname"]
    if config.get("stop_grace_period"):
        pod["terminationGracePeriodSeconds"] = seconds(config["stop_grace_period"], where)
    platform = config.get("platform")
    if platform:
        os_name, _, arch = str(platform).partition("/")
        pod["nodeSelector"] = {"kubernetes.io/os": os_name, **({"kubernetes.io/arch": arch.split("/")[0]}
                                                               if arch else {})}
    hosts = _host_aliases(config.get("extra_hosts"))
    if hosts:
        pod["hostAliases"] = hosts
    for key in ("pid", "ipc"):
        if config.get(key) == "host":
            pod[f"host{key.upper()}"] = True
        elif config.get(key):
            ctx.warn(where, f"{key} {config[key]!r} has no Kubernetes equivalent (left out)")
    if pod_volumes or file_volumes:
        pod["volumes"] = pod_volumes + file_volumes
    return pod


def _container(ctx: Context, service: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    image = image_of(ctx, service, config)
    container: dict[str, Any] = {"name": name, "image": ctx.options.images.get(image, image)}
    policy = PULL_POLICIES.get(str(config.get("pull_policy") or "missing"))
    if policy is None:
        ctx.warn(f"service {service}", f"pull_policy {config['pull_policy']} has no Kubernetes equivalent")
    else:
        container["imagePullPolicy"] = policy
    if config.get("entrypoint") is not None:
        container["command"] = _argv(config["entrypoint"])
    if config.get("command") is not None:
        container["args"] = _argv(config["command"])
    if config.get("working_dir"):
        container["workingDir"] = config["working_dir"]
    env = configs.env_configmap(ctx, service, name, config)
    if env is not None:
        container["envFrom"] = [{"configMapRef": {"name": env["metadata"]["name"]}}]
    ports = [{"containerPort": int(p["target"]), "protocol": str(p.get("protocol") or "tcp").upper()}
             for p in config.get("ports") or [] if str(p.get("target")).isdigit()]
    if ports:
        container["ports"] = [dict(t) for t in dict.fromkeys(tuple(sorted(p.items())) for p in ports)]
    container.update(probes.probes(ctx, service, config))
    limits = resources.resources(ctx, service, config)
    if limits:
        container["resources"] = limits
    context = security.container_context(ctx, service, config)
    if context:
        container["securityContext"] = context
    if config.get("tty"):
        container["tty"] = True
    if config.get("stdin_open"):
        container["stdin"] = True
    return container


def image_of(ctx: Context, service: str, config: dict[str, Any]) -> str:
    """The service's image as compose names it (a built one is `<project>-<service>`)."""
    if config.get("image"):
        return str(config["image"])
    image = f"{ctx.project}-{service}"
    if image not in ctx.options.images:
        ctx.warn(f"service {service}", f"its image {image} is built locally: a cluster can pull it only "
                 "from a registry (--push REGISTRY)")
    return image


def _argv(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _restart(ctx: Context, where: str, config: dict[str, Any]) -> None:
    restart = config.get("restart")
    condition = ((config.get("deploy") or {}).get("restart_policy") or {}).get("condition")
    if restart in ("no", "on-failure") or (restart or "").startswith("on-failure:") or \
            condition in ("none", "on-failure"):
        ctx.warn(where, f"restart {restart or condition}: a Deployment always restarts its containers "
                 "(a Job is the Kubernetes way to run to completion)")


def _host_aliases(extra_hosts: Any) -> list[dict[str, Any]]:
    if not extra_hosts:
        return []
    pairs: list[tuple[str, str]] = []
    if isinstance(extra_hosts, dict):
        for host, ips in extra_hosts.items():
            pairs += [(host, ip) for ip in ([ips] if isinstance(ips, str) else ips)]
    else:
        for item in extra_hosts:
            host, _, ip = str(item).replace("=", ":", 1).partition(":")
            pairs.append((host, ip))
    by_ip: dict[str, list[str]] = {}
    for host, ip in pairs:
        by_ip.setdefault(ip.strip("[]"), []).append(host)
    return [{"ip": ip, "hostnames": hosts} for ip, hosts in by_ip.items()]


def _labels(ctx: Context, service: str, config: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The service's labels (and `deploy.labels`): valid ones as labels, the others
    as annotations (Kubernetes restricts label values to 63 name characters)."""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    given = {**((config.get("deploy") or {}).get("labels") or {}), **(config.get("labels") or {})}
    for key, value in sorted(given.items()):
        text = "" if value is None else str(value)
        if valid_label(key, text):
            labels[key] = text
        else:
            annotations[key] = text
            ctx.warn(f"service {service}", f"label {key} is not a valid Kubernetes label: kept as an annotation")
    return labels, annotations
