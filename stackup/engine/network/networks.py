"""User networks: a Linux bridge with an address plan, NAT rules and a DNS server each."""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stackup.engine import notices, state
from stackup.engine.network import dns, firewall, ipam, links, names, procs, store, sublinks
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
    driver = driver or "bridge"
    if driver != "bridge" and driver not in sublinks.DRIVERS:
        raise UnsupportedError(f"network {name}: driver {driver!r} is not supported "
                               "(bridge, macvlan, ipvlan)")
    configs = ipam_config if isinstance(ipam_config, list) else ([ipam_config] if ipam_config else [])
    options = {str(k): str(v) for k, v in (options or {}).items()}
    mtu = _mtu(name, options)
    sublink = sublinks.settings(name, driver, options) if driver != "bridge" else {}
    with store.lock():
        existing = [n for n in store.load_all() if n["name"] == name]
        if existing:
            if exist_ok:
                return _repair_one(existing[0])
            raise ConflictError(f"network {name} already exists")
        net_id = names.new_id()
        net: dict[str, Any] = {"id": net_id, "name": name, "driver": driver,
               "bridge": "" if sublink else names.bridge_name(net_id), **sublink,
               "internal": bool(internal), "attachable": bool(attachable),
               "labels": dict(labels or {}), "options": options, "mtu": mtu,
               "created": _now(), "endpoints": {}, "dns_pid": None,
               "enable_ipv6": bool(enable_ipv6), "enable_ipv4": bool(enable_ipv4)}
        try:
            with store.host_lock():
                routes, connected = links.host_networks()
                ours = [p.subnet for n in store.load_all() for p in ipam.subnets_of(n)]
                # a macvlan/ipvlan subnet is usually the parent's LAN: only other networks conflict
                plans = ipam.plan_all(configs, routes + connected + ours, ipv4=bool(enable_ipv4),
                                      ipv6=bool(enable_ipv6), conflicts=ours if sublink else connected + ours)
                net["subnets"] = [p.to_json() for p in plans]
                net["ipam"] = net["subnets"][0]  # the first (IPv4 if any): the DNS server's
                if sublink:
                    net["dns_address"] = str(ipam.last_free(plans[0]))
                    net["dns_prefixlen"] = plans[0].subnet.prefixlen
                store.save(net)  # recorded first, so a crash leaves something to clean
                if not sublink:
                    links.create_bridge(net["bridge"], bridge_addresses(plans), mtu)
            dns.set_started(net, dns.start(net))  # its interpreter starts while the firewall is set
            if not sublink:
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
    dns.forget(net)  # a macvlan/ipvlan network's DNS interface goes with the server
    if sublinks.is_sublink(net):
        for ep in net.get("endpoints", {}).values():
            with contextlib.suppress(Exception):
                endpoint_link_delete(ep)
        store.delete(net["id"])
        return
    with _alongside(lambda: firewall.close_network(net["bridge"])):  # while the kernel deletes
        for cid in list(net.get("endpoints", {})):
            with contextlib.suppress(Exception):
                links.delete_link(net["endpoints"][cid]["veth"])
        links.delete_link(net["bridge"])
    store.delete(net["id"])


def endpoint_alive(ep: dict) -> bool:
    """The endpoint's interface is still there: its veth's host end, or (macvlan, ipvlan:
    no host end) the interface inside the container's namespace."""
    if ep.get("veth"):
        return links.exists(ep["veth"])
    return bool(ep.get("netns")) and links.exists_inside(Path(ep["netns"]), ep["ifname"])


def endpoint_link_delete(ep: dict) -> None:
    """Take the endpoint's interface away (a veth takes its peer with it; a macvlan or
    ipvlan one is deleted inside the container's namespace, if that still exists)."""
    if ep.get("veth"):
        links.delete_link_soon(ep["veth"])
    elif ep.get("netns"):
        links.delete_inside(Path(ep["netns"]), ep["ifname"])


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
        bridged = [n for n in nets if not sublinks.is_sublink(n)]
        rules = firewall.Snapshot.read(ipv6=any(_has_ipv6(n) for n in bridged)) if bridged else None
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
    stale = [cid for cid, ep in net["endpoints"].items() if not endpoint_alive(ep)]
    for cid in stale:
        del net["endpoints"][cid]
    return bool(stale)


def _repair_one(net: dict, rules: firewall.Snapshot | None = None) -> dict:
    """Bring a recorded network back to its recorded shape; called under the root lock.
    `rules`: the firewall as read once for several networks (read here when not given)."""
    changed = _drop_stale_endpoints(net)
    if sublinks.is_sublink(net):  # no bridge nor rules: its DNS server only
        if dns.ensure(net) or changed:
            store.save(net)
        return net
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

