"""Publishing a container's ports on the host through a userland proxy process.

`publish` binds every host socket first: a port in use is a ConflictError
("127.0.0.1:8080 is already in use") before anything is started, and the sockets
bound so far are closed. Only then is the proxy started, inheriting the bound
sockets; it forwards to the container's address and is stopped by `unpublish`.
Publishing on 127.0.0.1 binds loopback only, so the port is not reachable on
other addresses. A port published on every address (no host_ip) is bound on
0.0.0.0 and on [::] (the same port), as Docker does, so it answers on [::1] and the
host's IPv6 addresses too, whatever the container's network has (the proxy forwards
to the container's address either way); a host without IPv6 gets the IPv4 one only. The bindings (with the ports actually chosen) are kept in
$STACKUP_ROOT/ports/<container-id>.json for `stackup port`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stackup.engine import checkedjson, notices, state
from stackup.engine.network import procs, sockettable, store
from stackup.engine.network.ports import PortBinding, parse_ports
from stackup.errors import ConflictError, UserError

MODULE = "stackup.engine.network.proxy"


def _ports_dir() -> Path:
    return state.root() / "ports"


def _path(container_id: str) -> Path:
    return _ports_dir() / f"{container_id}.json"


def publish(container_id: str, container_ip: str,
            ports: Iterable[str | int | Mapping | PortBinding]) -> list[PortBinding]:
    """Publish `ports` of the container at `container_ip`; the bindings with their host ports."""
    bindings = parse_ports(ports)
    unpublish(container_id)
    if not bindings:
        return []
    return _serve(container_id, container_ip, bindings)


def _serve(container_id: str, container_ip: str, bindings: list[PortBinding]) -> list[PortBinding]:
    """Bind the host sockets, start the proxy on them and record it; the bindings as bound."""
    sockets: list[socket.socket] = []
    try:
        bound = []
        spec = []
        for b in bindings:
            sock, port = _bind_freeing_orphans(b)
            sockets.append(sock)
            bound.append(PortBinding(b.container_port, b.protocol, b.host_ip, port))
            spec.append(_spec(sock, bound[-1], bound[-1].bind_ip, container_ip))
            if not b.host_ip:
                sock6 = _bind_ipv6_too(bound[-1])
                if sock6 is not None:
                    sockets.append(sock6)
                    spec.append(_spec(sock6, bound[-1], "::", container_ip))
        record: dict[str, Any] = {"pid": None, "container_ip": container_ip, "bindings": [b.to_json() for b in bound]}
        # recorded before the proxy starts, its pid after: whatever moment kills this
        # command, `unpublish` finds the proxy (by its command line while the pid is None)
        state.atomic_write_json(_path(container_id), record)
        record["pid"] = procs.start_on_sockets(MODULE, [container_id, json.dumps(spec), str(_path(container_id))],
                                               log=_log(container_id),
                                               pass_fds=tuple(s.fileno() for s in sockets))
    finally:
        for s in sockets:
            s.close()
    record["started"] = procs.start_time(record["pid"])
    state.atomic_write_json(_path(container_id), record)
    return bound


def _spec(sock: socket.socket, b: PortBinding, bind_ip: str, container_ip: str) -> dict:
    return {"fd": sock.fileno(), "protocol": b.protocol, "bind_ip": bind_ip,
            "container_ip": container_ip, "container_port": b.container_port}


def _bind_ipv6_too(b: PortBinding) -> socket.socket | None:
    """The [::] socket of a binding on every address, on the port its 0.0.0.0 one got;
    None on a host without IPv6 (no such address, or no IPv6 sockets at all). A port
    taken on [::] alone is a conflict, as for IPv4."""
    try:
        sock, _ = _bind(PortBinding(b.container_port, b.protocol, "::", b.host_port))
    except UserError:  # EADDRNOTAVAIL
        return None
    except ConflictError as exc:
        if "already in use" in str(exc):
            raise
        return None
    except OSError:  # EAFNOSUPPORT when the socket is made
        return None
    return sock


def serving(container_id: str) -> bool | None:
    """Whether the container's port proxy serves (alive, not stopped, every host socket
    still bound); None when the container publishes nothing."""
    return _serving(_read(container_id) or {}, container_id)


def _serving(data: dict, container_id: str) -> bool | None:
    bindings = _bindings(data)
    if not bindings:
        return None
    pid = int(data.get("pid") or 0)
    if not procs.alive(pid, container_id, data.get("started")) or procs.suspended(pid):
        return False
    return sockettable.holds(pid, [(b.protocol, b.bind_ip, b.host_port) for b in bindings])


def ensure(container_id: str) -> bool:
    """Start the container's port proxy again if it died (e.g. was killed) or lost its
    sockets, on the host ports it had; True when it was restarted."""
    data = _read(container_id) or {}
    if _serving(data, container_id) is not False:
        return False
    procs.stop(data.get("pid"), container_id, started=data.get("started"))  # alive, not serving
    procs.stop_strays(MODULE, container_id)  # one whose start was never recorded
    _serve(container_id, data["container_ip"], _bindings(data))
    return True


def _bind_freeing_orphans(b: PortBinding) -> tuple[socket.socket, int]:
    """`_bind`; when the port is taken, first stop the proxies of this root whose record is
    lost (set aside as damaged, or deleted): one holds its ports until it notices, within
    seconds, and a recreate of its container wants them now."""
    try:
        return _bind(b)
    except ConflictError:
        if not stop_orphans():
            raise
    return _bind(b)


def stop_orphans() -> bool:
    """Stop this root's proxies whose record is gone; True if there were any."""
    ports_dir = f"{_ports_dir()}/"
    orphans = [(pid, args[0]) for pid, args in procs.running(MODULE)
               if len(args) > 2 and args[2].startswith(ports_dir) and not Path(args[2]).exists()]
    for pid, container_id in orphans:
        procs.stop(pid, container_id)
    return bool(orphans)


def _bind(b: PortBinding) -> tuple[socket.socket, int]:
    family = socket.AF_INET6 if ":" in b.bind_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if b.protocol == "tcp" else socket.SOCK_DGRAM
    candidates = range(b.host_port, (b.host_port_end or b.host_port) + 1) if b.host_port else [0]
    last: OSError | None = None
    for port in candidates:
        sock = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((b.bind_ip, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
            return sock, sock.getsockname()[1]
        except OSError as exc:
            sock.close()
            last = exc
    ip = f"[{b.bind_ip}]" if ":" in b.bind_ip else b.bind_ip
    where = f"{ip}:{b.host_port}" + (f"-{b.host_port_end}" if b.host_port_end else "")
    suffix = "/udp" if b.protocol == "udp" else ""
    if last is not None and last.errno == errno.EADDRINUSE:
        raise ConflictError(f"{where}{suffix} is already in use")
    if last is not None and last.errno == errno.EADDRNOTAVAIL:
        raise UserError(f"{where}{suffix}: {b.bind_ip} is not an address of this host")
    raise ConflictError(f"{where}{suffix} cannot be published: {last}")


def record_problem(record: object) -> str:
    problem = checkedjson.object_with({"bindings": (list,)}, {"pid": (int, type(None)),
                                                              "container_ip": (str,)}, record)
    if problem:
        return problem
    assert isinstance(record, dict)
    fields = {f.name for f in dataclasses.fields(PortBinding)}
    for b in record["bindings"]:
        if not isinstance(b, dict) or not {"container_port", "protocol"} <= set(b) \
                or not set(b) <= fields:
            return f"a binding is not a port binding: {b!r}"[:200]
    return ""


def _read(container_id: str) -> dict | None:
    """The container's port record; None when it has none. A damaged one is set aside (its
    proxy, which watches the record, exits within seconds; a publish that wants its ports
    stops it at once)."""
    return state.load_json(_path(container_id), record_problem,
                           f"the port record of container {container_id[:12]}")


def published(container_id: str) -> list[PortBinding]:
    """The container's published ports, with the host ports that were chosen."""
    return _bindings(_read(container_id) or {})


def _bindings(record: dict) -> list[PortBinding]:
    return [PortBinding(**b) for b in record.get("bindings", [])]


def unpublish(container_id: str) -> None:
    """Stop the container's port proxy (if any) and forget its bindings."""
    path = _path(container_id)
    state.remove_unfinished_writes(path)  # a publish killed mid-write (under the same locks)
    data = _read(container_id)
    if data is None:  # none, or lost (its proxy exits once it sees that: exit_when_gone)
        return
    procs.stop(data.get("pid"), container_id, started=data.get("started"))
    # the command that started it was killed before recording it
    if data.get("pid") is None and procs.stop_strays(MODULE, container_id):
        notices.repaired(f"container {container_id[:12]}: stopped a port proxy that was never recorded")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(FileNotFoundError):
        _log(container_id).unlink()


def _log(container_id: str) -> Path:
    return store.run_dir() / f"proxy-{container_id[:12]}.log"
