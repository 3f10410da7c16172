"""The bridge between the runtime's network hook and the network engine.

The runtime makes a container's network namespace and calls every registered
attacher with it (`stackup.engine.runtime.netns`). This attacher reads what the
project layer put in the spec's `networks` (see `containerspec`): it joins the
networks (veth, address, DNS names), writes the container's /etc/hosts and
/etc/resolv.conf (the network's DNS server first), and publishes the ports on the
host. `detach` undoes the ports and the endpoints, and tolerates repeats.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

_REGISTERED = False


class ProjectAttacher:
    def attach(self, container_id: str, netns_path: str, info: dict[str, Any]) -> dict[str, Any]:
        from stackup import engine  # noqa: F401  (package import keeps the lazy modules light)
        from stackup.engine import network

        wanted = info.get("networks") or {}
        attachments = [network.Attachment(network=a["network"], aliases=list(a.get("aliases") or []),
                                          ipv4_address=a.get("ipv4_address"),
                                          hostname=info.get("hostname") or None,
                                          container_name=a.get("container_name"),
                                          dns=list(wanted.get("dns") or []))
                       for a in wanted.get("attachments") or []]
        if not attachments:
            return {}
        endpoints = network.attach(container_id, Path(netns_path), attachments)
        try:
            first = endpoints[0]
            _write(info.get("hosts_file"),
                   network.hosts_file(info.get("hostname"), [ep.ip for ep in endpoints],
                                      wanted.get("extra_hosts") or None))
            _write(info.get("resolv_conf"),
                   network.resolv_conf(None if first.internal else first.gateway,
                                       wanted.get("dns") or [], wanted.get("dns_search") or []))
            bindings = network.publish(container_id, first.ip, wanted.get("ports") or [])
        except BaseException:
            self.detach(container_id)
            raise
        return {"endpoints": [ep.to_json() for ep in endpoints],
                "ports": [b.to_json() for b in bindings]}

    def detach(self, container_id: str) -> None:
        from stackup.engine import network

        with contextlib.suppress(Exception):
            network.unpublish(container_id)
        network.detach(container_id)


def _write(path: str | None, text: str) -> None:
    if path:
        # in place: the file may already be bind-mounted into the container
        with open(path, "w") as f:
            f.write(text)


def register() -> None:
    """Register the attacher with the runtime once per process."""
    global _REGISTERED
    if _REGISTERED:
        return
    from stackup.engine.runtime import netns

    netns.register_attacher(ProjectAttacher())
    _REGISTERED = True
