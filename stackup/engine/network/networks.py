"""User networks: a Linux bridge with an address plan, NAT rules and a DNS server each."""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable
from typing import Any

from stackup.engine import notices, state
from stackup.engine.network import dns, firewall, ipam, links, names, procs, store
from stackup.errors import ConflictError, UnsupportedError, UserError

MTU_OPTION = "com.docker.network.driver.mtu"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def create(name: str, *, driver: str = "bridge", ipam_config: list[dict] | dict | None = None,
           internal: bool = False, labels: dict[str, str] | None = None,
           options: dict[str, str] | None = None, attachable: bool = True,
           exist_ok: bool = False, enable_ipv6: bool = False, enable_ipv4: bool = True) -> dict:
    """Create the network `name` (bridge, subnets, rules, DNS server); its record.
    `enable_ipv6`: a subnet of each family (dual stack), as Docker's flag of that name."""
    if not names.NAME_RE.match(name or ""):
        raise UserError(f"invalid network name {name!r}: use letters, digits, '_', '.', '-'")
    if (driver or "bridge") != "bridge":
        raise UnsupportedError(f"network {name}: driver {driver!r} is not supported (only bridge)")
    configs = ipam_config if isinstance(ipam_config, list) else ([ipam_config] if ipam_config else [])
    options = {str(k): str(v) for k, v in (options or {}).items()}
    mtu = _mtu(name, options)
    with store.lock():
        existing = [n for n in store.load_all() if n["name"] == name]
        if existing:
            if exist_ok:
                return _repair_one(existing[0])
            raise ConflictError(f"network {name} already exists")
        net_id = names.new_id()
        net: dict[str, Any] = {"id": net_id, "name": name, "driver": "bridge", "bridge": names.bridge_name(net_id),
               "internal": bool(internal), "attachable": bool(attachable),
               "labels": dict(labels or {}), "options": options, "mtu": mtu,
               "created": _now(), "endpoints": {}, "dns_pid": None,
               "enable_ipv6": bool(enable_ipv6), "enable_ipv4": bool(enable_ipv4)}
        try:
            with store.host_lock():
                routes, connected = links.host_networks()
                ours = [p.subnet for n in store.load_all() for p in ipam.subnets_of(n)]
                plans = ipam.plan_all(configs, routes + connected + ours, ipv4=bool(enable_ipv4),
                                      ipv6=bool(enable_ipv6), conflicts=connected + ours)
                net["subnets"] = [p.to_json() for p in plans]
                net["ipam"] = net["subnets"][0]  # the first (IPv4 if any): the DNS server's
                store.save(net)  # recorded first, so a crash leaves something to clean
                links.create_bridge(net["bridge"], bridge_addresses(plans), mtu)
            dns.set_started(net, dns.start(net))  # its interpreter starts while the firewall is set
            firewall.open_network(name, net["bridge"], [p.subnet for p in plans], net["internal"],
                                  fresh=True)
            store.save(net)
        except BaseException:
            _teardown(net)
            raise
        return net


def bridge_addresses(plans: list[ipam.Subnet]) -> list[tuple[str, int]]:
    """The bridge's addresses: each subnet's gateway."""
    return [(str(p.gateway), p.subnet.prefixlen) for p in plans]


def _mtu(name: str, options: dict[str, str]) -> int | None:
    if MTU_OPTION not in options:
        return None
    try:
        mtu = int(options[MTU_OPTION])
    except ValueError:
        mtu = 0
    if not 68 <= mtu <= 65535:
        raise UserError(f"network {name}: driver_opts.{MTU_OPTION} must be a number 68-65535, "
                        f"got {options[MTU_OPTION]!r}")
    return mtu


def _teardown(net: dict) -> None:
    """Remove everything of `net` from the kernel and the state, whatever exists of it."""
    dns.forget(net)
    with _alongside(lambda: firewall.close_network(net["bridge"])):  # while the kernel deletes
        for cid in list(net.get("endpoints", {})):
            with contextlib.suppress(Exception):
                links.delete_link(net["endpoints"][cid]["veth"])
        links.delete_link(net["bridge"])
    store.delete(net["id"])


def remove_leftovers(network_id: str) -> None:
    """Take away what a network whose record was lost left in the kernel: its DNS server
    (found by its command line, which names the root and the network), rules and bridge."""
    if links.exists(names.bridge_name(network_id)):
        notices.warn(f"network {network_id[:12]} has no record: its bridge, rules and DNS "
                     "server are removed")
    servers: list[int | None] = [*procs.find(dns.MODULE, str(state.root()), network_id)] or [None]
    for pid in servers:
        _teardown({"id": network_id, "bridge": names.bridge_name(network_id), "endpoints": {},
                   "dns_pid": pid})


@contextlib.contextmanager
def _alongside(work: Callable[[], object]):
    """Run `work` in a thread during the block; a failure of it is ignored (best-effort cleanup)."""

    def quietly() -> None:
        with contextlib.suppress(Exception):
            work()

    thread = threading.Thread(target=quietly, name="stackup-alongside")
    thread.start()
    try:
        yield
    finally:
        thread.join()


def remove(name_or_id: str, force: bool = False) -> dict:
    """Remove a network; refused while containers are attached unless `force`."""
    with store.lock():
        net = store.find(name_or_id)
        _drop_stale_endpoints(net)
        if net["endpoints"] and not force:
            users = ", ".join(ep.get("container_name") or cid[:12] for cid, ep in net["endpoints"].items())
            raise ConflictError(f"network {net['name']} is in use by {users}")
        _teardown(net)
        return net


def get(name_or_id: str) -> dict:
    with store.lock():
        return _repair_one(store.find(name_or_id))


def list_all() -> list[dict]:
    """Every network of this root, repaired (dead DNS servers restarted, stale endpoints dropped)."""
    with store.lock():
        nets = store.load_all()
        rules = firewall.Snapshot.read(ipv6=any(_has_ipv6(n) for n in nets)) if nets else None
        return [_repair_one(n, rules) for n in nets]


def prune(label_filters: dict[str, str | None] | None = None) -> list[str]:
    """Remove networks without endpoints (matching the labels); their names."""
    removed = []
    with store.lock():
        for net in store.load_all():
            _drop_stale_endpoints(net)
            if net["endpoints"] or not store.labels_match(net.get("labels", {}), label_filters):
                continue
            _teardown(net)
            removed.append(net["name"])
    return removed


def _drop_stale_endpoints(net: dict) -> bool:
    """Forget endpoints whose veth is gone (its namespace died with a killed container)."""
    stale = [cid for cid, ep in net["endpoints"].items() if not links.exists(ep["veth"])]
    for cid in stale:
        del net["endpoints"][cid]
    return bool(stale)


def _repair_one(net: dict, rules: firewall.Snapshot | None = None) -> dict:
    """Bring a recorded network back to its recorded shape; called under the root lock.
    `rules`: the firewall as read once for several networks (read here when not given)."""
    changed = _drop_stale_endpoints(net)
    plans = ipam.subnets_of(net)
    bridge_exists = links.exists(net["bridge"])
    if not bridge_exists or not dns.running(net):
        # missing (after a reboot the state outlives the kernel's objects), or half made (a
        # create cut short before the bridge's address, which its DNS server needs): made
        # whole again, an existing bridge is reused
        links.create_bridge(net["bridge"], bridge_addresses(plans), net.get("mtu"))
    if not bridge_exists:
        notices.repaired(f"network {net['name']}: made its missing bridge again")
    ipv6 = _has_ipv6(net)
    if not bridge_exists or not (rules or firewall.Snapshot.read(ipv6)).intact(net["bridge"], net["internal"], ipv6):
        firewall.open_network(net["name"], net["bridge"], [p.subnet for p in plans], net["internal"],
                              check=False)
    changed |= dns.ensure(net)
    if changed:
        store.save(net)
    return net


def _has_ipv6(net: dict) -> bool:
    return any(p.version == 6 for p in ipam.subnets_of(net))


def ensure_ready(net: dict, bridge_missing: bool = False) -> None:
    """The join path's check: the DNS server runs; a full repair when it does not (its
    bridge may be missing, or without its address) or the bridge is missing."""
    if bridge_missing or not dns.running(net):
        _repair_one(net)

