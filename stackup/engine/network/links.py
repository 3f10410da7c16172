"""Links, addresses and routes: the operations the network layer asks of the kernel.

Each call is carried out by `rtnl` (pyroute2) in whichever process has pyroute2 loaded:
the command's link worker when one was started (see `linkworker`), else this process.
Arguments and results are plain values (names, addresses, paths), so both are the same.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path

from stackup.engine.network import linkworker
from stackup.errors import UserError


class BridgeMissing(FileNotFoundError):
    """The network's bridge is not in the kernel (it was deleted, or the host rebooted)."""


class ParentMissing(UserError):
    """A macvlan or ipvlan network's parent interface is not on the host."""


def exists(ifname: str) -> bool:
    return linkworker.call("exists", ifname)


def host_networks() -> tuple[list, list]:
    """(the host's routes' destinations, its interfaces' networks), both families; default
    routes, link-local and multicast excluded."""
    routes, connected = linkworker.call("host_networks")
    return [ip_network(r) for r in routes], [ip_network(c) for c in connected]


def create_bridge(name: str, addresses: list[tuple[str, int]], mtu: int | None) -> None:
    """A bridge with the gateway addresses (address, prefix length), up. An existing
    bridge of that name is reused."""
    linkworker.call("create_bridge", name, addresses, mtu)


def delete_link(name: str) -> bool:
    """Delete the interface `name` if it exists (a veth takes its peer with it)."""
    return linkworker.call("delete_link", name)


def delete_link_soon(name: str) -> None:
    """Delete `name` before the next link operation and before the command ends, not
    necessarily now (see linkworker.call_soon)."""
    linkworker.call_soon("delete_link", name)


def create_veth(host_name: str, bridge: str, netns_path: Path, peer_name: str,
                mtu: int | None, mac: str | None) -> None:
    """A veth pair: `host_name` enslaved to `bridge` and up, `peer_name` inside the netns;
    BridgeMissing if the bridge is gone. A leftover `host_name` is replaced."""
    linkworker.call("create_veth", host_name, bridge, netns_path, peer_name, mtu, mac)


def create_sublink(kind: str, parent: str, mode: str, netns_path: Path, ifname: str,
                   mtu: int | None, mac: str | None) -> None:
    """A macvlan or ipvlan interface on `parent` made inside the netns as `ifname`
    (Docker's way: no host-side end); ParentMissing when `parent` is not there."""
    linkworker.call("create_sublink", kind, parent, mode, netns_path, ifname, mtu, mac)


def delete_inside(netns_path: Path, ifname: str) -> bool:
    """Delete `ifname` inside the netns; False when the netns or the interface is gone."""
    return linkworker.call("delete_inside", netns_path, ifname)


def exists_inside(netns_path: Path, ifname: str) -> bool:
    return linkworker.call("exists_inside", netns_path, ifname)


def link_mac(ifname: str) -> str:
    return linkworker.call("link_mac", ifname)


def configure_inside(netns_path: Path, ifname: str, addresses: list[tuple[str, int]],
                     gateways: list[str], check_default: bool = True) -> None:
    """Address `ifname` inside the netns, bring it and lo up, add a default route through
    each gateway (after looking for an existing one of its family when `check_default`)."""
    linkworker.call("configure_inside", netns_path, ifname, addresses, gateways, check_default)


def loopback_up(netns_path: Path) -> None:
    linkworker.call("loopback_up", netns_path)


def mac_for(address: IPv4Address | IPv6Address) -> str:
    """A locally administered MAC derived from the address (as Docker does): 02:42:a:b:c:d
    (from an IPv6 address' last four bytes, for an IPv6-only network)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed[-4:])
