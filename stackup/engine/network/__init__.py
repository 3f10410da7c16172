"""stackup's networks: bridges, veth pairs, IPAM, DNS, published ports, NAT.

The public API (imported lazily so that helper processes stay light):

- `create_network`, `remove_network`, `get_network`, `list_networks`, `prune_networks`
- `connect(container_id, netns_path, attachments) -> list[Endpoint]`, `disconnect(container_id)`
- `publish(container_id, container_ip, ports) -> list[PortBinding]`, `unpublish(container_id)`,
  `published(container_id)`, `parse_ports(specs)`
- helpers' liveness: `dns_serving(net)`, `proxy_serving(container_id)`; `ensure_proxy(container_id)`
  restarts a dead port proxy (a network's DNS server is restarted by `get_network`)
- `runtime_wiring()`: all of the above as the runtime's NetworkWiring
  (`runtime.netns.register_wiring(network.runtime_wiring())`)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Attachment": "endpoints", "Endpoint": "endpoints", "connect": "endpoints",
    "disconnect": "endpoints", "endpoints_of": "endpoints", "loopback_only": "endpoints",
    "create_network": ("networks", "create"), "remove_network": ("networks", "remove"),
    "get_network": ("networks", "get"), "list_networks": ("networks", "list_all"),
    "prune_networks": ("networks", "prune"),
    "PortBinding": "ports", "parse_ports": "ports",
    "publish": "portmap", "unpublish": "portmap", "published": "portmap",
    "proxy_serving": ("portmap", "serving"), "ensure_proxy": ("portmap", "ensure"),
    "dns_serving": ("dns", "running"), "network_records": ("store", "load_all"),
    "RuntimeWiring": "wiring", "runtime_wiring": "wiring",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(name)
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value
