"""Starting, checking and stopping a network's DNS server (see dnsserver.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from stackup.engine import repairs, state
from stackup.engine.network import procs, store
from stackup.errors import StackupError

MODULE = "stackup.engine.network.dnsserver"


def start(net: dict) -> int:
    """Start the network's DNS server on its gateway address, port 53; its pid.

    Its sockets are bound here and handed over: an address clash fails this call, and
    a container's first query waits in the socket while the server's interpreter starts
    (so nothing waits for the server here).
    """
    address = net["ipam"]["gateway"]
    udp, tcp = bind(address, int(os.environ.get("STACKUP_DNS_PORT", "53")))
    with udp, tcp:
        fds = (udp.fileno(), tcp.fileno())
        return procs.start_on_sockets(MODULE, [str(state.root()), net["id"], address, *map(str, fds)],
                                      log=log(net), pass_fds=fds)


def bind(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """The server's UDP socket and listening TCP socket on address:port."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
    return procs.alive(net.get("dns_pid"), net["id"])


def ensure(net: dict) -> bool:
    """Restart the DNS server if it died (e.g. was killed); True when `net` changed."""
    if running(net):
        return False
    stop(net)  # one a killed create started but never recorded holds the address
    net["dns_pid"] = start(net)
    return True


def stop(net: dict) -> None:
    """Stop the network's server: the recorded one, and any the record missed."""
    procs.stop(net.get("dns_pid"), net["id"])
    for pid in procs.strays(MODULE, net["id"]):
        procs.stop(pid, net["id"])
        repairs.note(f"network {net['name']}: stopped a DNS server that was never recorded")
    net["dns_pid"] = None


def forget(net: dict) -> None:
    """Stop the server and remove its log (the network is going away)."""
    stop(net)
    log(net).unlink(missing_ok=True)
