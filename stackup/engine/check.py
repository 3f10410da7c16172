"""`stackup system check`: what in this root's state and in the kernel does not agree, and
the repair of each.

The repairs are the engine's own readers and removers (the ones every command runs), so
the check finds what they would find: damaged state files (set aside, `.damaged`), a
container without state whose processes still run (killed and removed), a network whose
record is lost (rebuilt from its containers, or taken away), helpers and shims whose
container or network is gone, port records of removed containers, removals cut short.
Only what names this root (its folders, its ids in command lines) is touched: other roots
on the host are not this check's to judge.
"""

from __future__ import annotations

import os
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackup.engine import checkedjson, state
from stackup.engine.checkedjson import DamagedState
from stackup.engine.runtime import statefile
from stackup.engine.runtime.container import REMOVING, Runtime, is_container_id



@dataclass
class Finding:
    problem: str                   # one line: what is wrong, naming the file or object
    repair: Callable[[], object]   # what sets it right (an engine reader or remover)


def findings(runtime: Runtime | None = None) -> list[Finding]:
    """Everything inconsistent in this root, each with its repair (nothing is changed here)."""
    rt = runtime or Runtime()
    networks, rebuilt = _networks()
    return (_containers(rt) + networks + _volumes() + _ports(rt) + _stray_shims(rt)
            + _stray_helpers(rebuilt))


def _damage(path: Path, shape_problem: Callable[[object], str]) -> str:
    """What is wrong with a state file ("" when nothing is, or it does not exist)."""
    try:
        checkedjson.read(str(path), shape_problem)
    except DamagedState as exc:
        return exc.reason
    return ""


def _containers(rt: Runtime) -> list[Finding]:
    out: list[Finding] = []
    if not rt.containers_dir.is_dir():
        return out
    for entry in sorted(rt.containers_dir.iterdir()):
        if not (entry.is_dir() and is_container_id(entry.name)):
            continue
        if (entry / REMOVING).exists():
            out.append(Finding(f"{entry}: the removal of a container was cut short",
                               partial(rt.forget, entry.name)))
            continue
        path = entry / statefile.FILE
        reason = _damage(path, statefile.shape_problem)
        if reason:
            out.append(Finding(f"{path}: damaged ({reason})", rt.list))
        elif not path.exists() and any(n != statefile.LOCK and not n.startswith(".")
                                       for n in os.listdir(entry)):
            out.append(Finding(f"{entry}: a container without state", rt.list))
    return out


def _networks() -> tuple[list[Finding], set[str]]:
    """The findings, and the ids of the networks that their repair rebuilds."""
    from stackup.engine.network import store

    out = []
    known = set()
    for path in sorted(store.networks_dir().glob("*.json")):
        reason = _damage(path, store.shape_problem)
        if reason:
            out.append(Finding(f"{path}: damaged ({reason})", store.load_all))
        else:
            known.add(path.stem)
    lost = store.lost_copies(known)
    for net_id, net in sorted(lost.items()):
        out.append(Finding(f"network {net.get('name')} ({net_id[:12]}) has no record but "
                           "containers on it", store.load_all))
    return out, set(lost)


def _volumes() -> list[Finding]:
    from stackup.engine import volumes

    out = []
    for path in sorted(volumes.volumes_dir().glob("*/meta.json")):
        reason = _damage(path, volumes.meta_problem)
        if reason:
            out.append(Finding(f"{path}: damaged ({reason})", volumes.list_volumes))
    return out


def _ports(rt: Runtime) -> list[Finding]:
    from stackup.engine.network import portmap

    out = []
    for path in sorted((state.root() / "ports").glob("*.json")):
        cid = path.stem
        reason = _damage(path, portmap.record_problem)
        if reason:
            out.append(Finding(f"{path}: damaged ({reason})", partial(_forget_ports, cid)))
        elif not rt.cdir(cid).is_dir():
            out.append(Finding(f"{path}: the port record of a removed container",
                               partial(portmap.unpublish, cid)))
    return out


def _forget_ports(container_id: str) -> None:
    """Set the damaged record aside (as any reader does) and stop the proxy it named."""
    from stackup.engine.network import portmap

    portmap.unpublish(container_id)
    portmap.stop_orphans()


def _stray_shims(rt: Runtime) -> list[Finding]:
    """Shims and cgroups of this root's containers whose directory is gone."""
    shims = rt.shims_without_directory()
    return [Finding(f"container {cid[:12]}: its shim runs (pid {pid}) but the container has "
                    "no directory", partial(rt.forget, cid))
            for cid, pid in sorted(shims.items())] + [
        Finding(f"container {cid[:12]}: its cgroup holds processes but the container has no "
                "directory", partial(rt.forget, cid))
        for cid in rt.cgroups_without_directory() if cid not in shims]


def _stray_helpers(rebuilt: set[str]) -> list[Finding]:
    """DNS servers and port proxies of this root whose record is gone (and is not among
    the networks that are `rebuilt` from their containers)."""
    from stackup.engine.network import dns, networks, portmap, procs, store

    out = []
    root = str(state.root())
    for pid, args in procs.running(dns.MODULE):
        if len(args) > 1 and args[0] == root and not store.path_of(args[1]).exists() \
                and args[1] not in rebuilt:
            out.append(Finding(f"network {args[1][:12]}: its DNS server runs (pid {pid}) but the "
                               "network has no record",
                               partial(networks.remove_leftovers, args[1])))
    for pid, args in procs.running(portmap.MODULE):
        if len(args) > 2 and args[2].startswith(root + "/") and not os.path.exists(args[2]):
            out.append(Finding(f"container {args[0][:12]}: its port proxy runs (pid {pid}) but "
                               "has no record",
                               partial(procs.stop, pid, args[0])))
    return out

