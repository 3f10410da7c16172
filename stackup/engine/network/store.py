"""Networks in the engine's state: one JSON file per network under $STACKUP_ROOT/networks.

A network file holds the network's definition, its address plan, its endpoints
(one per attached container: address, interface names, DNS names) and the pid of
its DNS server. The DNS server reads these files directly, so registering a
name is just an atomic write of the file. Changes are made under one lock per
root; a second, host-wide lock serialises what roots share (subnet choice, nft).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from stackup.engine import checkedjson, notices, state
from stackup.engine.checkedjson import DamagedState
from stackup.errors import NotFoundError

HOST_LOCK = Path("/run/lock/stackup-network.lock")


def networks_dir() -> Path:
    return state.root() / "networks"


def path_of(network_id: str) -> Path:
    return networks_dir() / f"{network_id}.json"


def run_dir() -> Path:
    """Logs of the helper processes (DNS servers, port proxies)."""
    return state.root() / "network-run"


@contextlib.contextmanager
def lock() -> Iterator[None]:
    with state.locked(networks_dir() / ".lock"):
        yield


@contextlib.contextmanager
def host_lock() -> Iterator[None]:
    with state.locked(HOST_LOCK):
        yield


def shape_problem(net: object) -> str:
    """What is wrong with a parsed network file ("" when nothing is): the keys the
    engine indexes must be there, with their types."""
    problem = checkedjson.object_with(
        {"id": (str,), "name": (str,), "bridge": (str,), "ipam": (dict,), "endpoints": (dict,)},
        {"labels": (dict,), "internal": (bool,), "dns_pid": (int, type(None)), "created": (str,)},
        net)
    if problem:
        return problem
    assert isinstance(net, dict)
    problem = checkedjson.object_with({"subnet": (str,), "gateway": (str,)}, None, net["ipam"])
    if problem:
        return "ipam: " + problem
    for cid, ep in net["endpoints"].items():
        problem = checkedjson.object_with({"veth": (str,), "ip": (str,)}, None, ep)
        if problem:
            return f"endpoint {cid[:12]}: {problem}"
    return ""


def load_all() -> list[dict]:
    """Every network's record. A damaged one is set aside with a warning. A network whose
    record is lost (damaged or deleted) while containers are still on it is rebuilt from
    the copies its containers keep; without any, what it left in the kernel (bridge,
    rules, DNS server) is taken away, and the next `up` creates it again."""
    d = networks_dir()
    if not d.is_dir():
        return []
    out: list[dict] = []
    damaged = []
    for entry in sorted(os.scandir(d), key=lambda e: e.name):
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            try:
                data = checkedjson.read(entry.path, shape_problem)
            except DamagedState as exc:
                state.set_aside(exc, "the network file")
                damaged.append(entry.name[:-len(".json")])
                continue
            if isinstance(data, dict):
                out.append(data)
    # a network can be lost only with a damaged file, or with a bridge of no record here
    # (one listing of the links; the containers' records are read only then)
    if damaged or _unrecorded_bridge({n.get("bridge") for n in out}):
        out += rebuild_lost({n["id"] for n in out}, damaged)
    return sorted(out, key=lambda n: n.get("created", ""))


def _unrecorded_bridge(recorded: set[str | None]) -> bool:
    """A bridge of stackup's that no record of this root names (another root's, or one
    whose record is lost)."""
    from stackup.engine.network.names import BRIDGE_PREFIX

    return any(name.startswith(BRIDGE_PREFIX) and name not in recorded for name in os.listdir("/sys/class/net"))


def copy_for_rebuild(net: dict, endpoint: dict) -> dict:
    """What a container keeps of a network it joins: the network's definition (not its
    other endpoints, nor its DNS server's pid) and its own endpoint's record."""
    return {k: v for k, v in net.items() if k not in ("endpoints", "dns_pid")} | {"endpoint": endpoint}


def rebuild_lost(known: set[str], damaged: list[str]) -> list[dict]:
    """Rebuild the networks that this root's containers are on (their veths still exist)
    but that have no file among `known`; the rebuilt records. The `damaged` ones that
    cannot be rebuilt are taken away from the kernel."""
    lost = lost_copies(known)
    rebuilt = []
    for net_id, net in sorted(lost.items()):
        if shape_problem(net):
            continue
        from stackup.engine.network import dns, procs

        net["dns_pid"] = next(iter(procs.find(dns.MODULE, str(state.root()), net_id)), None)
        save(net)
        notices.warn(f"network {net['name']} had no readable record: rebuilt from the "
                     f"{len(net['endpoints'])} container(s) on it")
        rebuilt.append(net)
    for net_id in damaged:
        if net_id not in lost:
            from stackup.engine.network import networks  # the kernel side, loaded for this case only

            networks.remove_leftovers(net_id)
    return rebuilt


def lost_copies(known: set[str]) -> dict[str, dict]:
    """network id -> the record rebuilt from the copies kept by the containers still on it."""
    nets: dict[str, dict] = {}
    for path in (state.root() / "containers").glob("*/state.json"):
        try:
            container = checkedjson.read(str(path), lambda value: "")
        except DamagedState:
            continue  # the runtime sets it aside when it reads it
        for net_id, copy in _copies_of(container).items():
            if net_id in known or not isinstance(copy.get("endpoint"), dict):
                continue
            if not (_link_exists(copy["endpoint"].get("veth")) and _link_exists(copy.get("bridge"))):
                # it left that network (disconnected, or the network was removed), or the
                # bridge is gone too, and its subnet may be another network's by now
                continue
            net = nets.setdefault(net_id, {k: v for k, v in copy.items() if k != "endpoint"}
                                  | {"endpoints": {}, "dns_pid": None})
            net["endpoints"][path.parent.name] = copy["endpoint"]
    return nets


def _copies_of(container: object) -> dict[str, dict]:
    network = container.get("network") if isinstance(container, dict) else None
    copies = network.get("network_copies") if isinstance(network, dict) else None
    if not isinstance(copies, dict):
        return {}
    return {k: v for k, v in copies.items() if isinstance(k, str) and isinstance(v, dict)}


def _link_exists(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    from stackup.engine.network import links  # pyroute2: only when a network is lost

    return links.exists(name)


def find(name_or_id: str) -> dict:
    """The network named `name_or_id`, or whose id starts with it."""
    nets = load_all()
    for net in nets:
        if net["name"] == name_or_id or net["id"] == name_or_id:
            return net
    matches = [n for n in nets if len(name_or_id) >= 3 and n["id"].startswith(name_or_id)]
    if len(matches) == 1:
        return matches[0]
    raise NotFoundError(f"network {name_or_id} not found")


def save(net: dict, durable: bool = True) -> None:
    """Replace the network's file atomically.

    `durable=False` skips the fsyncs: for endpoint changes, whose kernel side (veths
    in namespaces) does not survive a power cut either, so losing the record with
    it is consistent; the rename still makes the change atomic for readers.
    """
    if durable:
        state.atomic_write_json(path_of(net["id"]), net)
        return
    path = path_of(net["id"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(net, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def delete(network_id: str) -> None:
    state.remove_unfinished_writes(path_of(network_id))
    with contextlib.suppress(FileNotFoundError):
        path_of(network_id).unlink()


def labels_match(labels: Mapping[str, str], filters: Mapping[str, str | None] | None) -> bool:
    """True when `labels` has every key of `filters` (with the value, when one is given)."""
    for key, value in (filters or {}).items():
        if key not in labels or (value is not None and labels[key] != value):
            return False
    return True
