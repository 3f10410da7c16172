"""A Service per compose service, so that its name keeps resolving and its ports
keep answering on that name.

Ports (`ports` and `expose`) are served on the container's port, as other services
reach them in compose. A service with published ports gets the type chosen by
`--service-type` or its label `io.stackup.kube.service-type` (ClusterIP by default,
which publishes nothing outside the cluster: warned); a NodePort keeps the published
port when it is in the node port range. A service without ports gets a headless
Service (its name resolves to its pods).
"""

from __future__ import annotations

from typing import Any

from stackup.errors import UserError
from stackup.kube.model import SERVICE_TYPES, Context, Document
from stackup.kube.names import port_name, selector

TYPE_LABEL = "io.stackup.kube.service-type"
NODE_PORTS = range(30000, 32768)
PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}


def service(ctx: Context, service_name: str, name: str, config: dict[str, Any]) -> Document:
    where = f"service {service_name}"
    ports: list[dict[str, Any]] = []
    published = False
    for port in config.get("ports") or []:
        entry = _port(ctx, where, port.get("target"), port.get("protocol") or "tcp")
        if entry is None:
            continue
        if port.get("published") not in (None, ""):
            published = True
            entry["_published"] = str(port["published"])
        if port.get("host_ip"):
            ctx.warn(where, f"port {port.get('target')}: host_ip {port['host_ip']} has no Service equivalent")
        if port.get("app_protocol"):
            entry["appProtocol"] = port["app_protocol"]
        _add(ports, entry)
    for exposed in config.get("expose") or []:
        number, _, protocol = str(exposed).partition("/")
        entry = _port(ctx, where, number, protocol or "tcp")
        if entry is not None:
            _add(ports, entry)
    spec: dict[str, Any] = {"selector": selector(name)}
    kind = _type(ctx, service_name, config) if published else "ClusterIP"
    if not ports:
        spec["clusterIP"] = "None"  # headless: the name resolves to the pods
    else:
        if kind != "ClusterIP":
            spec["type"] = kind
        elif published:
            ctx.warn(where, "published ports are reachable inside the cluster only with a ClusterIP Service "
                     "(--service-type NodePort or LoadBalancer publishes them)")
        spec["ports"] = [_finish(ctx, where, kind, p) for p in ports]
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(name, name), "spec": spec}


def _type(ctx: Context, service_name: str, config: dict[str, Any]) -> str:
    kind = (config.get("labels") or {}).get(TYPE_LABEL) or ctx.options.service_type
    if kind not in SERVICE_TYPES:
        raise UserError(f"service {service_name}: service type {kind!r} is not one of {', '.join(SERVICE_TYPES)}")
    return str(kind)


def _port(ctx: Context, where: str, target: Any, protocol: str) -> dict[str, Any] | None:
    text = str(target)
    if not text.isdigit() or not 0 < int(text) < 65536:
        ctx.warn(where, f"port {target!r}: a port range has no Service equivalent (left out)")
        return None
    if protocol.lower() not in PROTOCOLS:
        ctx.warn(where, f"port {target}: protocol {protocol} has no Service equivalent (left out)")
        return None
    number = int(text)
    return {"name": port_name(protocol, number), "protocol": PROTOCOLS[protocol.lower()], "port": number,
            "targetPort": number}


def _add(ports: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    for existing in ports:
        if existing["name"] == entry["name"]:
            existing.setdefault("_published", entry.get("_published"))
            if existing["_published"] is None:
                existing.pop("_published")
            return
    ports.append(entry)


def _finish(ctx: Context, where: str, kind: str, port: dict[str, Any]) -> dict[str, Any]:
    published = port.pop("_published", None)
    if published is None or kind == "ClusterIP":
        return port
    if kind == "NodePort":
        if published.isdigit() and int(published) in NODE_PORTS:
            port["nodePort"] = int(published)
        else:
            ctx.warn(where, f"port {port['port']}: published port {published} is outside the node port range "
                     "(30000-32767): the cluster picks one")
    elif published != str(port["port"]):
        ctx.warn(where, f"port {port['port']}: the load balancer serves it on {port['port']}, not on "
                 f"the published {published}")
    return port
