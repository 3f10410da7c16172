"""The network engine as the runtime's NetworkWiring (see runtime/netns.py).

The runtime makes the container's network namespace, then calls `connect` with the
namespace's path and a dict describing the container; this joins its networks,
writes its /etc/hosts and /etc/resolv.conf (the paths the runtime gives), and
publishes its ports. `disconnect` undoes it all and tolerates repeats.

The dict's keys (all optional except `networks`): `networks` (a mapping of
network name to compose-style options: aliases, ipv4_address, ipv6_address, mac_address,
priority, links (alias -> name, seen by this container only); or a list of names), `hostname`, `domainname`, `name` (the container's
name), `extra_hosts`, `dns`, `dns_search`, `dns_opt`, `ports` (compose port
specs), `hosts_file` and `resolv_conf` (paths to write).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackup.engine import state
from stackup.engine.network.endpoints import Attachment, connect, disconnect
from stackup.engine.network.portmap import publish, unpublish
from stackup.engine.etcfiles import hosts_file, resolv_conf


def attachments(spec: Mapping[str, Any]) -> list[Attachment]:
    """The container's Attachments, highest `priority` first (that one gives the default route)."""
    nets = spec.get("networks") or {}
    if not isinstance(nets, Mapping):
        nets = {name: {} for name in nets}
    ordered = sorted(nets.items(), key=lambda kv: -int((kv[1] or {}).get("priority") or 0))
    out = []
    for name, opts in ordered:
        opts = opts or {}
        out.append(Attachment(
            network=name, aliases=list(opts.get("aliases") or []),
            ipv4_address=opts.get("ipv4_address") or None,
            ipv6_address=opts.get("ipv6_address") or None, hostname=spec.get("hostname") or None,
            container_name=spec.get("name") or spec.get("container_name") or None,
            mac=opts.get("mac_address") or None, dns=list(spec.get("dns") or []),
            dns_search=list(spec.get("dns_search") or []), links=dict(opts.get("links") or {})))
    return out


class RuntimeWiring:
    """Plugs into `stackup.engine.runtime.netns.register_wiring`."""

    def connect(self, container_id: str, netns_path: str, spec: dict[str, Any]) -> dict[str, Any]:
        endpoints = connect(container_id, Path(netns_path), attachments(spec))
        try:
            return self._finish(container_id, spec, endpoints)
        except BaseException:
            self.disconnect(container_id)  # nothing half made: no endpoint stays without its ports
            raise

    def _finish(self, container_id: str, spec: dict[str, Any], endpoints: list) -> dict[str, Any]:
        first = endpoints[0] if endpoints else None
        if spec.get("hosts_file"):
            own = [a for a in (first.ip, first.ip6) if a] if first else []
            text = hosts_file(spec.get("hostname"), own, spec.get("extra_hosts"),
                              spec.get("domainname"), host_gateway=first.gateway if first else None)
            state.atomic_write_bytes(Path(spec["hosts_file"]), text.encode())
        if spec.get("resolv_conf"):
            text = resolv_conf((first.nameserver or first.gateway) if first else None, spec.get("dns") or [],
                               spec.get("dns_search") or [], spec.get("dns_opt") or [])
            state.atomic_write_bytes(Path(spec["resolv_conf"]), text.encode())
        ports = []
        if spec.get("ports"):
            if first is None:
                from stackup.errors import UserError

                raise UserError("ports can only be published for a container on a network")
            ports = [b.to_json() for b in publish(container_id, first.ip, spec["ports"])]
        return {"networks": {ep.network: ep.to_json() for ep in endpoints}, "ports": ports,
                "network_copies": {ep.network_id: ep.network_copy for ep in endpoints}}

    def disconnect(self, container_id: str) -> None:
        unpublish(container_id)
        disconnect(container_id)


def runtime_wiring() -> RuntimeWiring:
    return RuntimeWiring()
