"""Starting, checking and stopping a network's DNS server (see dnsserver.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from stackup.engine import notices, state
from stackup.engine.network import procs, sockettable, store, sublinks
from stackup.errors import StackupError

MODULE = "stackup.engine.network.dnsserver"


def start(net: dict) -> int:
    """Start the network's DNS server on its gateway address, port 53; its pid.

    Its sockets are bound here and handed over: an address clash fails this call, and
    a container's first query waits in the socket while the server's interpreter starts
    (so nothing waits for the server here).
    """
    address = server_address(net)
    port = int(os.environ.get("STACKUP_DNS_PORT", "53"))
    if sublinks.is_sublink(net):
        udp, tcp = sublinks.dns_sockets(net, port)
    else:
        udp, tcp = bind(address, port)
    with udp, tcp:
        fds = (udp.fileno(), tcp.fileno())
        return procs.start_on_sockets(MODULE, [str(state.root()), net["id"], address, *map(str, fds)],
                                      log=log(net), pass_fds=fds)


def server_address(net: dict) -> str:
    """Where the network's server answers: its bridge's gateway, or the address a
    macvlan/ipvlan network reserves for it (see sublinks)."""
    return net.get("dns_address") or net["ipam"]["gateway"]


def bind(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """The server's UDP socket and listening TCP socket on address:port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET  # an IPv6-only network's gateway
    udp = socket.socket(family, socket.SOCK_DGRAM)
    tcp = socket.socket(family, socket.SOCK_STREAM)
    try:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind((address, port))
        tcp.bind((address, port))
        tcp.listen(64)
    except OSError as exc:
        udp.close()
        tcp.close()
        raise StackupError(f"cannot serve DNS on {address}:{port}: {exc.strerror}") from exc
    return udp, tcp


def log(net: dict) -> Path:
    return store.run_dir() / f"dns-{net['id'][:12]}.log"


def running(net: dict) -> bool:
    """The recorded server is alive (its pid, started when recorded), not stopped, and
    still holds its sockets on the gateway address: it serves."""
    pid = int(net.get("dns_pid") or 0)
    if not procs.alive(pid, net["id"], net.get("dns_started")) or procs.suspended(pid):
        return False
    if sublinks.is_sublink(net):
        return True  # its sockets are in a namespace of their own, and keep it while they live
    port = int(os.environ.get("STACKUP_DNS_PORT", "53"))
    address = server_address(net)
    return sockettable.holds(pid, [("udp", address, port), ("tcp", address, port)])


def ensure(net: dict) -> bool:
    """Restart the DNS server if it died (e.g. was killed) or lost its sockets; True when
    `net` changed. The caller has made sure the bridge has its gateway address, without
    which the bind fails (`networks._repair_one`)."""
    if running(net):
        return False
    stop(net)  # one that is alive but does not serve, and any the record missed
    set_started(net, start(net))
    return True


def set_started(net: dict, pid: int) -> None:
    """Record the server `pid` with its start time (its identity, see procs.alive)."""
    net["dns_pid"] = pid
    net["dns_started"] = procs.start_time(pid)


def stop(net: dict) -> None:
    """Stop the network's server: the recorded one, and any the record missed (a killed
    create started it but never recorded it, and it holds the address)."""
    procs.stop(net.get("dns_pid"), net["id"], started=net.get("dns_started"))
    if procs.stop_strays(MODULE, net["id"]):
        notices.repaired(f"network {net['name']}: stopped a DNS server that was never recorded")
    net["dns_pid"] = None
    net["dns_started"] = None


def forget(net: dict) -> None:
    """Stop the server and remove its log (the network is going away)."""
    stop(net)
    log(net).unlink(missing_ok=True)
