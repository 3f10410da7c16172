"""Starting, checking and stopping a network's DNS server (see dnsserver.py)."""

from __future__ import annotations

from pathlib import Path

from stackup.engine import state
from stackup.engine.network import procs, store

MODULE = "stackup.engine.network.dnsserver"


def start(net: dict) -> int:
    """Start the network's DNS server on its gateway address; its pid."""
    return launch(net).ready()


def launch(net: dict) -> procs.Launched:
    """Start the DNS server without waiting for it to be ready (`.ready()` gives its pid)."""
    return procs.launch(MODULE, [str(state.root()), net["id"], net["ipam"]["gateway"]], log=log(net))


def log(net: dict) -> Path:
    return store.run_dir() / f"dns-{net['id'][:12]}.log"


def running(net: dict) -> bool:
    return procs.alive(net.get("dns_pid"), net["id"])


def ensure(net: dict) -> bool:
    """Restart the DNS server if it died (e.g. was killed); True when `net` changed."""
    if running(net):
        return False
    net["dns_pid"] = start(net)
    return True


def stop(net: dict) -> None:
    procs.stop(net.get("dns_pid"), net["id"])
    net["dns_pid"] = None


def forget(net: dict) -> None:
    """Stop the server and remove its log (the network is going away)."""
    stop(net)
    log(net).unlink(missing_ok=True)
