"""Links, addresses and routes through pyroute2: bridges, veth pairs, container interfaces.

Callers go through `links`, which runs these functions in the process that has
pyroute2 loaded (see `linkworker`). Work inside a container's network namespace is done
by a short-lived thread that enters the namespace with setns(2) (which changes only the calling thread) and
opens its own netlink socket there, so no helper process is forked.
"""

from __future__ import annotations

import errno
import os
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import TYPE_CHECKING

from stackup.engine.network.links import BridgeMissing, ParentMissing
from stackup.engine.network.netnsthread import in_netns
from stackup.errors import UnsupportedError
from stackup.engine.network.pyroute2_light import load_iproute

if TYPE_CHECKING:  # pyroute2 has no type hints: its objects are untyped
    from pyroute2 import IPRoute, NetlinkError
else:
    IPRoute, NetlinkError = load_iproute()

IFA_F_NODAD = 0x02  # an address usable at once: no duplicate detection on a bridge stackup owns
AF_INET6 = 10


def index_of(ipr: IPRoute, ifname: str) -> int | None:
    """The interface's index (one RTM_GETLINK by name, not a dump of every link)."""
    try:
        return ipr.link("get", ifname=ifname)[0]["index"]
    except NetlinkError as exc:
        if exc.code in (errno.ENODEV, errno.ENOENT):
            return None
        raise


def exists(ifname: str) -> bool:
    with IPRoute() as ipr:
        return index_of(ipr, ifname) is not None


def host_networks() -> tuple[list[str], list[str]]:
    """(the host's routes' destinations, its interfaces' networks), both families, as
    text; default routes, link-local and multicast ranges excluded."""
    routes: list[str] = []
    connected: list[str] = []
    with IPRoute() as ipr:
        for family in (2, AF_INET6):
            for route in ipr.get_routes(family=family):
                dst = route.get_attr("RTA_DST")
                if dst and route["dst_len"] > 0 and _global(dst):
                    routes.append(str(ip_network(f"{dst}/{route['dst_len']}", strict=False)))
            for addr in ipr.get_addr(family=family):
                address = addr.get_attr("IFA_ADDRESS")
                if _global(address):
                    connected.append(str(ip_network(f"{address}/{addr['prefixlen']}", strict=False)))
    return routes, connected


def _global(address: str) -> bool:
    ip = ip_address(address.split("%")[0])
    return not (ip.is_link_local or ip.is_multicast)


def create_bridge(name: str, addresses: list[tuple[str, int]], mtu: int | None) -> None:
    """A bridge with the gateway addresses (address, prefix length), up. An existing
    bridge of that name is reused."""
    with IPRoute() as ipr:
        idx = index_of(ipr, name)
        if idx is None:
            kwargs = {"mtu": mtu} if mtu else {}
            try:
                ipr.link("add", ifname=name, kind="bridge", **kwargs)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
            idx = index_of(ipr, name)
        if idx is None:
            raise FileNotFoundError(f"bridge {name} vanished while it was made")
        _pin_address(ipr, idx)
        _add_addresses(ipr, idx, addresses)
        ipr.link("set", index=idx, state="up")


def _pin_address(ipr: IPRoute, idx: int) -> None:
    """Give the bridge a MAC address of its own. Left alone, a bridge takes the lowest MAC
    of its ports and changes it when that port goes: the gateway's address then moves
    while the containers' neighbour tables still name the old one, and nothing they send
    to the gateway (DNS queries included) arrives until they probe again, 20 s and more
    (seen when a scale-down removed the replica whose veth had the lowest MAC). An address
    set by hand stays. A bridge being reused keeps the address it has now."""
    current = ipr.link("get", index=idx)[0].get_attr("IFLA_ADDRESS") or ""
    if current.replace(":", "").strip("0"):
        ipr.link("set", index=idx, address=current)
    else:
        ipr.link("set", index=idx, address=random_mac())


def random_mac() -> str:
    """A random locally administered unicast MAC (as Docker gives its bridges)."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in octets)


def _add_addresses(ipr: IPRoute, idx: int, addresses: list[tuple[str, int]]) -> None:
    """Add the addresses the interface lacks; IPv6 ones without duplicate detection, so they
    are usable at once (a DNS server binds its gateway address, a container its own)."""
    have = {(ip_address(a.get_attr("IFA_ADDRESS")), a["prefixlen"]) for a in ipr.get_addr(index=idx)}
    for address, prefixlen in addresses:
        ip = ip_address(address)
        if (ip, prefixlen) in have:
            continue
        if ip.version == 6:
            ipr.addr("add", index=idx, address=str(ip), prefixlen=prefixlen, flags=IFA_F_NODAD)
        else:
            ipr.addr("add", index=idx, address=str(ip), prefixlen=prefixlen)


def delete_link(name: str) -> bool:
    """Delete the interface `name` if it exists (a veth takes its peer with it)."""
    with IPRoute() as ipr:
        idx = index_of(ipr, name)
        if idx is None:
            return False
        try:
            ipr.link("del", index=idx)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise
        return True


def create_veth(host_name: str, bridge: str, netns_path: Path, peer_name: str,
                mtu: int | None, mac: str | None) -> None:
    """A veth pair: `host_name` enslaved to `bridge` and up, `peer_name` inside the netns.

    A leftover `host_name` (of a killed earlier run of the same container) is replaced.
    """
    with IPRoute() as ipr:
        bridge_idx = index_of(ipr, bridge)
        if bridge_idx is None:
            raise BridgeMissing(f"bridge {bridge} is missing")
        nsfd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            peer: dict = {"ifname": peer_name, "net_ns_fd": nsfd}
            if mtu:
                peer["mtu"] = mtu
            if mac:
                peer["address"] = mac
            kwargs = {"mtu": mtu} if mtu else {}
            try:
                ipr.link("add", ifname=host_name, kind="veth", peer=peer, master=bridge_idx, **kwargs)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
                ipr.link("del", ifname=host_name)
                ipr.link("add", ifname=host_name, kind="veth", peer=peer, master=bridge_idx, **kwargs)
        finally:
            os.close(nsfd)
        ipr.link("set", ifname=host_name, state="up")


def configure_inside(netns_path: Path, ifname: str, addresses: list[tuple[str, int]],
                     gateways: list[str], check_default: bool = True) -> None:
    """Address `ifname` inside the netns, bring it and lo up, add a default route through
    each of `gateways` (one per family).

    `check_default`: look for an existing default route of that family first (only needed
    when the container already had a network, which may have given it one).
    """

    def work() -> None:
        with IPRoute() as ipr:
            ipr.link("set", ifname="lo", state="up")
            idx = index_of(ipr, ifname)
            if idx is None:
                raise FileNotFoundError(f"{ifname} did not arrive in {netns_path}")
            _add_addresses(ipr, idx, addresses)
            ipr.link("set", index=idx, state="up")
            for gateway in gateways:
                family = 2 if ip_address(gateway).version == 4 else AF_INET6
                if not (check_default and _has_default_route(ipr, family)):
                    dst = "0.0.0.0/0" if family == 2 else "::/0"
                    ipr.route("add", dst=dst, gateway=gateway, oif=idx, family=family)

    in_netns(netns_path, work)


def _has_default_route(ipr: IPRoute, family: int = 2) -> bool:
    return any(r["dst_len"] == 0 for r in ipr.get_routes(family=family, table=254))


def loopback_up(netns_path: Path) -> None:
    def work() -> None:
        with IPRoute() as ipr:
            ipr.link("set", index=index_of(ipr, "lo"), state="up")

    in_netns(netns_path, work)



def create_sublink(kind: str, parent: str, mode: str, netns_path: Path, ifname: str,
                   mtu: int | None, mac: str | None) -> None:
    """A macvlan or ipvlan interface on `parent`, made directly inside the netns as `ifname`
    (no host-side end; its name is checked only there). `mode`: the macvlan mode by name
    (bridge, private, vepa, passthru), or the ipvlan one (l2, l3, l3s)."""
    with IPRoute() as ipr:
        parent_idx = index_of(ipr, parent)
        if parent_idx is None:
            raise ParentMissing(f"parent interface {parent} is missing")
        nsfd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            kwargs: dict = {"ifname": ifname, "kind": kind, "link": parent_idx, "net_ns_fd": nsfd}
            if kind == "macvlan":
                kwargs["macvlan_mode"] = mode
                if mac:
                    kwargs["address"] = mac
            else:
                kwargs["ipvlan_mode"] = IPVLAN_MODES[mode]
            if mtu:
                kwargs["mtu"] = mtu
            try:
                ipr.link("add", **kwargs)
            except NetlinkError as exc:
                if exc.code == errno.EOPNOTSUPP:
                    raise UnsupportedError(f"this kernel has no {kind} driver (network interfaces "
                                           f"of kind {kind} cannot be made)") from None
                raise
        finally:
            os.close(nsfd)


IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}


def delete_inside(netns_path: Path, ifname: str) -> bool:
    """Delete `ifname` inside the netns; False when the netns or the interface is gone."""

    def work() -> bool:
        with IPRoute() as ipr:
            idx = index_of(ipr, ifname)
            if idx is None:
                return False
            ipr.link("del", index=idx)
            return True

    try:
        return in_netns(netns_path, work)
    except OSError:  # the namespace is gone (its file removed, or no longer a namespace)
        return False


def exists_inside(netns_path: Path, ifname: str) -> bool:
    """Whether the netns at `netns_path` is still a namespace and has `ifname`."""

    def work() -> bool:
        with IPRoute() as ipr:
            return index_of(ipr, ifname) is not None

    try:
        return in_netns(netns_path, work)
    except OSError:
        return False


def link_mac(ifname: str) -> str:
    with IPRoute() as ipr:
        return ipr.link("get", ifname=ifname)[0].get_attr("IFLA_ADDRESS")
