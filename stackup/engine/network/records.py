"""Which addresses a name has, as seen from one container: the DNS server's logic (pure).

Names are per network, as Docker scopes them: a container finds the names of the
networks it is attached to, the network it asks through first. A name may have
several addresses (all replicas of a service share the service name as alias).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address


def endpoint_names(endpoint: dict) -> set[str]:
    return {n.lower().rstrip(".") for n in endpoint.get("names", []) if n}


def addresses(endpoint: dict, version: int) -> list[str]:
    """The endpoint's addresses of one IP version (its `ip`, and `ip6` on a dual-stack network)."""
    return [a for a in (endpoint.get("ip"), endpoint.get("ip6")) if a and ip_address(a).version == version]


def container_of(network: dict, source_ip: str) -> str | None:
    if source_ip.startswith("::ffff:"):  # an IPv4 client of a dual-stack socket
        source_ip = source_ip[len("::ffff:"):]
    for cid, ep in network.get("endpoints", {}).items():
        if source_ip in (ep.get("ip"), ep.get("ip6")):
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


def lookup(networks: Iterable[dict], via_network_id: str, source_ip: str, name: str,
           version: int = 4) -> list[str]:
    """The addresses of `name` (IPv4, or IPv6 for `version` 6: A or AAAA records) for a
    query from `source_ip` arriving on `via_network_id`."""
    found = lookup_any(networks, via_network_id, source_ip, name)
    return [ip for ip in found if ip_address(ip).version == version]


def lookup_any(networks: Iterable[dict], via_network_id: str, source_ip: str, name: str) -> list[str]:
    """Every address of `name`, of both families, from the first network that knows it
    (a name known with addresses of one family only has no records of the other). A
    link alias of the asker stands for the name it links to (as Docker's links on a
    user-defined network: resolved at each query, so it follows the target's address)."""
    networks = list(networks)
    name = name.lower().rstrip(".")
    name = link_target(networks, via_network_id, source_ip, name) or name
    for net in search_order(networks, via_network_id, source_ip):
        found = sorted({a for ep in net.get("endpoints", {}).values() if name in endpoint_names(ep)
                        for a in addresses(ep, 4) + addresses(ep, 6)}, key=_ip_key)
        if found:
            return found
    return []


def link_target(networks: Iterable[dict], via_network_id: str, source_ip: str, name: str) -> str | None:
    """The name the asking container's link alias `name` stands for; None when it is none."""
    for net in networks:
        if net["id"] == via_network_id:
            cid = container_of(net, source_ip)
            links = net["endpoints"][cid].get("links") or {} if cid else {}
            for alias, target in links.items():
                if alias.lower().rstrip(".") == name:
                    return str(target).lower().rstrip(".")
    return None


def reverse(networks: Iterable[dict], via_network_id: str, source_ip: str, ip: str) -> str | None:
    """The name (the container name, else the first name) of the endpoint holding `ip`."""
    for net in search_order(networks, via_network_id, source_ip):
        for ep in net.get("endpoints", {}).values():
            if ip in (ep.get("ip"), ep.get("ip6")) and ep.get("names"):
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
    if qname.endswith(".ip6.arpa"):
        nibbles = qname[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return None
        text = "".join(reversed(nibbles))
        return str(ip_address(":".join(text[i:i + 4] for i in range(0, 32, 4))))
    if not qname.endswith(".in-addr.arpa"):
        return None
    parts = qname[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return ".".join(reversed(parts))


def _ip_key(ip: str) -> tuple[int, int]:
    address = ip_address(ip)
    return address.version, int(address)
