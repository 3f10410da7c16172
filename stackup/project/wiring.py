"""The runtime's network hook for service containers.

The runtime makes a container's network namespace and calls every registered
wiring with it and a small dict (`networks`, `hostname`, `hosts_file`,
`resolv_conf`; see `stackup.engine.runtime.netns`). The network engine's
`RuntimeWiring` does the work (networks, /etc/hosts, resolv.conf, published
ports) but wants more than the runtime passes: the container's name, extra hosts,
DNS servers, ports. This adapter reads those from the container's recorded spec
(ports and dns_search from the `containerspec.NETWORK_EXTRAS` label) and hands the
whole to the network engine.
"""

from __future__ import annotations

import json
from typing import Any

class ProjectWiring:
    def __init__(self) -> None:
        self._inner: Any = None

    @property
    def inner(self) -> Any:
        # imported on first use: pyroute2 is heavy and most commands connect nothing
        if self._inner is None:
            from stackup.engine import network

            self._inner = network.runtime_wiring()
        return self._inner

    def connect(self, container_id: str, netns_path: str, info: dict[str, Any]) -> dict[str, Any]:
        from stackup.engine import state as st
        from stackup.engine.runtime.containerstate import StateStore
        from stackup.project.containerspec import NETWORK_EXTRAS

        recorded = StateStore(st.root() / "containers").read(container_id)
        spec = recorded.spec if recorded else {}
        extras = json.loads((spec.get("labels") or {}).get(NETWORK_EXTRAS) or "{}")
        full = dict(info)
        full.update(name=recorded.name if recorded else None, domainname=spec.get("domainname") or None,
                    extra_hosts=spec.get("extra_hosts") or None, dns=spec.get("dns") or [],
                    dns_search=extras.get("dns_search") or [], ports=extras.get("ports") or [])
        return self.inner.connect(container_id, netns_path, full)

    def disconnect(self, container_id: str) -> None:
        self.inner.disconnect(container_id)
