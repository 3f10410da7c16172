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

from stackup.engine import checkedjson, state
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
    """Every network's record. A damaged one is set aside with a warning, and what the
    network left in the kernel (bridge, rules, DNS server) is taken away: the engine
    cannot serve a network it has no plan of; the next `up` creates it again."""
    d = networks_dir()
    if not d.is_dir():
        return []
    out: list[dict] = []
    for entry in sorted(os.scandir(d), key=lambda e: e.name):
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            try:
                data = checkedjson.read(entry.path, shape_problem)
            except DamagedState as exc:
                _forget_damaged(exc, entry.name[:-len(".json")])
                continue
            if isinstance(data, dict):
                out.append(data)
    return sorted(out, key=lambda n: n.get("created", ""))


def _forget_damaged(damage: DamagedState, network_id: str) -> None:
    state.set_aside(damage, "the network file",
                    "its bridge, rules and DNS server are removed; `up` creates it again")
    from stackup.engine.network import networks  # the kernel side, loaded for this case only

    networks.remove_leftovers(network_id)


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
    with contextlib.suppress(FileNotFoundError):
        path_of(network_id).unlink()


def labels_match(labels: Mapping[str, str], filters: Mapping[str, str | None] | None) -> bool:
    """True when `labels` has every key of `filters` (with the value, when one is given)."""
    for key, value in (filters or {}).items():
        if key not in labels or (value is not None and labels[key] != value):
            return False
    return True
