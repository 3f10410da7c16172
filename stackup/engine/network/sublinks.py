"""macvlan and ipvlan networks: containers on a host interface (the parent), as Docker's
drivers of those names make them.

No bridge and no host-side end: each container's interface is made on the parent and
placed straight into the container's namespace, with an address from the network's
subnets (the gateway is the parent's LAN router, never given to a container). The host
adds no NAT nor filtering rules for them (Docker adds none either).

Names: Docker answers them from a resolver inside each container's namespace. Here the
network's DNS server (the same one bridges have) answers on an address of the network
reserved for it: an interface of the same kind on the parent, alone in a namespace made
for it. The server's sockets are opened in that namespace (so they belong to it), while
the server itself runs in the host's, where it forwards other queries from. Nothing pins
the namespace but those sockets: when the server ends, the namespace and its interface
go with it, so a killed server leaves nothing behind. Containers reach that address as
they reach each other (macvlan bridge and ipvlan modes; not in macvlan private, vepa
without a hairpin switch, or passthru, where names therefore do not resolve).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from stackup.engine.network import links
from stackup.engine.network.netnsthread import in_netns
from stackup.errors import UserError

DRIVERS = ("macvlan", "ipvlan")
MODE_OPTIONS = {"macvlan": "macvlan_mode", "ipvlan": "ipvlan_mode"}
MODES = {"macvlan": ("bridge", "private", "vepa", "passthru"), "ipvlan": ("l2", "l3", "l3s")}
# the driver options these drivers take (besides the MTU one every driver takes)
OPTIONS = ("parent", "macvlan_mode", "ipvlan_mode", "ipvlan_flag")
DNS_IFNAME = "eth0"


def is_sublink(net: dict[str, Any]) -> bool:
    return net.get("driver") in DRIVERS


def settings(name: str, driver: str, options: dict[str, str]) -> dict[str, str]:
    """The parent and mode of a macvlan/ipvlan network from its driver options (Docker's
    names: `parent`, `macvlan_mode`, `ipvlan_mode`); a one-line error for a bad one."""
    for key in options:
        if key in OPTIONS and key not in ("parent", MODE_OPTIONS[driver], "ipvlan_flag"):
            raise UserError(f"network {name}: driver_opts.{key} is not an option of the {driver} driver")
    parent = options.get("parent", "")
    if not parent:
        raise UserError(f"network {name}: the {driver} driver needs driver_opts.parent (the host "
                        "interface its containers sit on)")
    mode = options.get(MODE_OPTIONS[driver]) or MODES[driver][0]
    if mode not in MODES[driver]:
        raise UserError(f"network {name}: driver_opts.{MODE_OPTIONS[driver]} must be one of "
                        f"{', '.join(MODES[driver])}, got {mode!r}")
    if options.get("ipvlan_flag", "bridge") != "bridge":
        raise UserError(f"network {name}: driver_opts.ipvlan_flag {options['ipvlan_flag']!r} is not "
                        "supported (only bridge)")
    if not links.exists(parent):
        hint = " (stackup makes no VLAN sub-interface: create it first)" if "." in parent else ""
        raise UserError(f"network {name}: parent interface {parent} does not exist{hint}")
    return {"parent": parent, "mode": mode}


def dns_sockets(net: dict[str, Any], port: int) -> tuple[socket.socket, socket.socket]:
    """The DNS server's UDP and listening TCP sockets, bound to the network's DNS address
    inside a namespace of their own that holds the server's interface on the parent."""
    from stackup.engine.network import dns

    fd = in_netns(None, lambda: os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC))
    try:
        netns = Path(f"/proc/{os.getpid()}/fd/{fd}")  # the link worker opens it by this path
        links.create_sublink(net["driver"], net["parent"], net["mode"], netns, DNS_IFNAME,
                             net.get("mtu"), None)
        address, prefixlen = net["dns_address"], net["dns_prefixlen"]
        links.configure_inside(netns, DNS_IFNAME, [(address, prefixlen)], [], check_default=False)
        return in_netns(netns, lambda: dns.bind(address, port))
    finally:
        os.close(fd)  # from here the sockets alone keep the namespace
