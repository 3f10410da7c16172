"""Joining containers to networks: a veth pair per container and network.

The runtime creates the container's network namespace and calls `connect` before
the container's process runs; `disconnect` when the container stops or is removed.
An endpoint in the network's state is what makes the container's names resolve.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from ipaddress import ip_address
from pathlib import Path

from stackup.engine.network import ipam, links, names, networks, store, sublinks
from stackup.errors import ConflictError, UserError


@dataclass
class Attachment:
    """What a container asks of one network (compose `networks:` entry of a service)."""

    network: str
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    hostname: str | None = None
    container_name: str | None = None
    mac: str | None = None
    dns: list[str] = field(default_factory=list)  # the container's own upstream resolvers
    dns_search: list[str] = field(default_factory=list)  # its search domains, answered locally too
    # legacy links: alias -> the name it stands for, resolved for this container only
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class Endpoint:
    """What a container got on one network."""

    network: str
    network_id: str
    container_id: str
    ifname: str
    veth: str
    ip: str
    prefixlen: int
    gateway: str
    mac: str
    names: list[str]
    internal: bool = False
    # the IPv6 address of a dual-stack network ("" without; on an IPv6-only network the
    # address is `ip`, as there is no other)
    ip6: str = ""
    prefixlen6: int = 0
    gateway6: str = ""
    # where the network's DNS server answers when not on the gateway (macvlan, ipvlan)
    nameserver: str = ""
    # the container's namespace, for an interface with no host-side end (macvlan, ipvlan)
    netns: str = ""
    # the network's definition and this endpoint's record in it, kept by the container
    # too, so that a network whose file is lost can be rebuilt (see store.rebuild_lost)
    network_copy: dict = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict:
        out = asdict(self)
        del out["network_copy"]
        return out


def dns_names(container_id: str, att: Attachment) -> list[str]:
    out: list[str] = []
    for name in [att.container_name, att.hostname, *att.aliases, container_id[:12]]:
        if name and name not in out:
            out.append(name)
    return out


def connect(container_id: str, netns_path: Path, attachments: list[Attachment]) -> list[Endpoint]:
    """Join the container (whose netns is at `netns_path`) to each network, in order.

    The first attachment's network gives the default route (the first non-internal
    one; internal networks have no way out). All addresses are decided before any
    interface is made; on failure everything made by this call is removed again.
    """
    netns_path = Path(netns_path)
    if len({a.network for a in attachments}) != len(attachments):
        raise UserError("a container can join each network only once")
    with store.lock():
        all_nets = store.load_all()
        plans: list[tuple[dict, Attachment, list[tuple[ipam.Subnet, ipam.Address]], str]] = []
        used_ifnames = {ep["ifname"] for n in all_nets for cid, ep in n["endpoints"].items()
                        if cid == container_id}
        for att in attachments:
            net = _find(all_nets, att.network)
            if container_id in net["endpoints"] and not networks.endpoint_alive(net["endpoints"][container_id]):
                del net["endpoints"][container_id]  # stale: its namespace went without a detach
            if container_id in net["endpoints"]:
                raise ConflictError(f"container {container_id[:12]} is already on network {net['name']}")
            used = {ip_address(a) for ep in net["endpoints"].values() for a in addresses_of(ep)}
            used |= {ip_address(net["dns_address"])} if net.get("dns_address") else set()
            used |= {a for n, _, got, _ in plans if n is net for _, a in got}
            got = _allocate(net, att, used)
            ifname = _next_ifname(used_ifnames)
            used_ifnames.add(ifname)
            plans.append((net, att, got, ifname))
        made: list[str] = []
        made_inside: list[str] = []
        endpoints: list[Endpoint] = []
        had_networks = bool(used_ifnames)
        try:
            gateway_done = False
            for net, att, got, ifname in plans:
                networks.ensure_ready(net)
                mac = att.mac or links.mac_for(got[0][1])
                if sublinks.is_sublink(net):
                    veth = ""  # no host-side end: the interface is made in the namespace
                    mac = _sublink(net, netns_path, ifname, mac)
                    made_inside.append(ifname)
                else:
                    veth = names.veth_name(container_id, net["id"])
                    _veth(net, veth, netns_path, ifname, mac)
                    made.append(veth)
                gateways: list[str] = []
                if not net["internal"] and not gateway_done:
                    gateways, gateway_done = [str(p.gateway) for p, _ in got], True
                links.configure_inside(netns_path, ifname, [(str(a), p.subnet.prefixlen) for p, a in got],
                                       gateways, check_default=had_networks)
                (first, addr), six = got[0], _v6_beside(got)
                server = net.get("dns_address", "")
                ep = Endpoint(net["name"], net["id"], container_id, ifname, veth, str(addr),
                              first.subnet.prefixlen, str(first.gateway), mac,
                              dns_names(container_id, att), net["internal"],
                              ip6=str(six[1]) if six else "", prefixlen6=six[0].subnet.prefixlen if six else 0,
                              gateway6=str(six[0].gateway) if six else "", nameserver=server,
                              netns=str(netns_path) if sublinks.is_sublink(net) else "")
                record = ep.to_json() | {"container_name": att.container_name, "dns": list(att.dns),
                                         "search": list(att.dns_search), "links": dict(att.links)}
                net["endpoints"][container_id] = record
                ep.network_copy = store.copy_for_rebuild(net, record)
                endpoints.append(ep)
            for net, *_ in plans:
                store.save(net, durable=False)  # the names resolve from here on
        except BaseException:
            for veth in made:
                with contextlib.suppress(Exception):
                    links.delete_link(veth)
            for ifname in made_inside:
                with contextlib.suppress(Exception):
                    links.delete_inside(netns_path, ifname)
            for net, *_ in plans:
                net["endpoints"].pop(container_id, None)
            raise
        return endpoints


def _veth(net: dict, veth: str, netns_path: Path, ifname: str, mac: str) -> None:
    try:
        links.create_veth(veth, net["bridge"], netns_path, ifname, net.get("mtu"), mac)
    except links.BridgeMissing:  # e.g. after a reboot: rebuild the network, then retry
        networks.ensure_ready(net, bridge_missing=True)
        links.create_veth(veth, net["bridge"], netns_path, ifname, net.get("mtu"), mac)


def _sublink(net: dict, netns_path: Path, ifname: str, mac: str) -> str:
    """The container's macvlan/ipvlan interface on the network's parent; its MAC (an
    ipvlan interface has the parent's)."""
    if net["driver"] == "ipvlan":
        links.create_sublink("ipvlan", net["parent"], net["mode"], netns_path, ifname, net.get("mtu"), None)
        return links.link_mac(net["parent"])
    links.create_sublink("macvlan", net["parent"], net["mode"], netns_path, ifname, net.get("mtu"), mac)
    return mac


def addresses_of(endpoint: dict) -> list[str]:
    """Every address of an endpoint's record (its IPv4 or only one, and its IPv6 one)."""
    return [a for a in (endpoint.get("ip"), endpoint.get("ip6")) if a]


def _allocate(net: dict, att: Attachment, used: set) -> list[tuple[ipam.Subnet, ipam.Address]]:
    """The endpoint's addresses: one of each family the network has (IPv4 first)."""
    plans = ipam.subnets_of(net)
    got = []
    for version, requested in ((4, att.ipv4_address), (6, att.ipv6_address)):
        found = ipam.allocate_family(plans, version, used, requested)
        if found is not None:
            got.append(found)
    return got


def _v6_beside(got: list) -> tuple | None:
    """The IPv6 (subnet, address) of a dual-stack endpoint; None when it has only one family."""
    return got[1] if len(got) > 1 else None


def disconnect(container_id: str, network: str | None = None) -> list[str]:
    """Leave every network (or just `network`): veth deleted, address released; their names."""
    left = []
    with store.lock():
        for net in store.load_all():
            if container_id not in net["endpoints"]:
                continue
            if network is not None and network not in (net["name"], net["id"]):
                continue
            ep = net["endpoints"].pop(container_id)
            networks.endpoint_link_delete(ep)
            store.save(net, durable=False)
            left.append(net["name"])
    return left


def endpoints_of(container_id: str) -> list[Endpoint]:
    out = []
    for net in store.load_all():
        ep = net["endpoints"].get(container_id)
        if ep:
            out.append(Endpoint(**{k: ep[k] for k in Endpoint.__dataclass_fields__ if k in ep}))
    return out


def loopback_only(netns_path: Path) -> None:
    """network_mode none: the namespace gets just its loopback, up."""
    links.loopback_up(Path(netns_path))


def _find(all_nets: list[dict], name: str) -> dict:
    for net in all_nets:
        if net["name"] == name or net["id"] == name:
            return net
    from stackup.errors import NotFoundError

    raise NotFoundError(f"network {name} not found")


def _next_ifname(used: set[str]) -> str:
    i = 0
    while names.container_ifname(i) in used:
        i += 1
    return names.container_ifname(i)


