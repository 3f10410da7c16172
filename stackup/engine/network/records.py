"""Which addresses a name has, as seen from one container: the DNS server's logic (pure).

Names are per network, as Docker scopes them: a container finds the names of the
networks it is attached to, the network it asks through first. A name may have
several addresses (all replicas of a service share the service name as alias).
"""

from __future__ import annotations

from collections.abc import Iterable


def endpoint_names(endpoint: dict) -> set[str]:
    return {n.lower().rstrip(".") for n in endpoint.get("names", []) if n}


def container_of(network: dict, source_ip: str) -> str | None:
    for cid, ep in network.get("endpoints", {}).items():
        if ep.get("ip") == source_ip:
            return cid
    return None


def search_order(networks: Iterable[dict], via_network_id: str, source_ip: str) -> list[dict]:
    """The networks whose names the asker sees: the one asked through first, then its others."""
    networks = list(networks)
    via = next((n for n in networks if n["id"] == via_network_id), None)
    if via is None:
        return []
    cid = container_of(via, source_ip)
    others = [n for n in networks if n["id"] != via_network_id and cid
              and cid in n.get("endpoints", {})]
    return [via, *others]


def lookup(networks: Iterable[dict], via_network_id: str, source_ip: str, name: str) -> list[str]:
    """The IPv4 addresses of `name` for a query from `source_ip` arriving on `via_network_id`."""
    name = name.lower().rstrip(".")
    for net in search_order(networks, via_network_id, source_ip):
        found = sorted({ep["ip"] for ep in net.get("endpoints", {}).values()
                        if name in endpoint_names(ep)}, key=_ip_key)
        if found:
            return found
    return []


def reverse(networks: Iterable[dict], via_network_id: str, source_ip: str, ip: str) -> str | None:
    """The name (the container name, else the first name) of the endpoint holding `ip`."""
    for net in search_order(networks, via_network_id, source_ip):
        for ep in net.get("endpoints", {}).values():
            if ep.get("ip") == ip and ep.get("names"):
                return ep.get("container_name") or ep["names"][0]
    return None


def upstreams_for(networks: Iterable[dict], via_network_id: str, source_ip: str) -> list[str] | None:
    """The container's own `dns` servers, when it was given some."""
    for net in networks:
        if net["id"] == via_network_id:
            cid = container_of(net, source_ip)
            if cid:
                return net["endpoints"][cid].get("dns") or None
    return None


def search_of(networks: Iterable[dict], via_network_id: str, source_ip: str) -> list[str]:
    """The asking container's own search domains (its dns_search)."""
    for net in networks:
        if net["id"] == via_network_id:
            cid = container_of(net, source_ip)
            if cid:
                return [d.lower().strip(".") for d in net["endpoints"][cid].get("search") or []]
    return []


def ptr_to_ip(qname: str) -> str | None:
    qname = qname.lower().rstrip(".")
    if not qname.endswith(".in-addr.arpa"):
        return None
    parts = qname[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return ".".join(reversed(parts))


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) for p in ip.split("."))
