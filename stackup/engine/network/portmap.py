"""Publishing a container's ports on the host through a userland proxy process.

`publish` binds every host socket first: a port in use is a ConflictError
("127.0.0.1:8080 is already in use") before anything is started, and the sockets
bound so far are closed. Only then is the proxy started, inheriting the bound
sockets; it forwards to the container's address and is stopped by `unpublish`.
Publishing on 127.0.0.1 binds loopback only, so the port is not reachable on
other addresses. The bindings (with the ports actually chosen) are kept in
$STACKUP_ROOT/ports/<container-id>.json for `stackup port`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stackup.engine import repairs, state
from stackup.engine.network import procs, store
from stackup.engine.network.ports import PortBinding, parse_ports
from stackup.errors import ConflictError, UserError

MODULE = "stackup.engine.network.proxy"


def _path(container_id: str) -> Path:
    return state.root() / "ports" / f"{container_id}.json"


def publish(container_id: str, container_ip: str,
            ports: Iterable[str | int | Mapping | PortBinding]) -> list[PortBinding]:
    """Publish `ports` of the container at `container_ip`; the bindings with their host ports."""
    bindings = parse_ports(ports)
    unpublish(container_id)
    if not bindings:
        return []
    sockets: list[socket.socket] = []
    try:
        bound = []
        for b in bindings:
            sock, port = _bind(b)
            sockets.append(sock)
            bound.append(PortBinding(b.container_port, b.protocol, b.host_ip, port))
        spec = [{"fd": s.fileno(), "protocol": b.protocol, "bind_ip": b.bind_ip,
                 "container_ip": container_ip, "container_port": b.container_port}
                for s, b in zip(sockets, bound)]
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
    state.atomic_write_json(_path(container_id), record)
    return bound


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


def published(container_id: str) -> list[PortBinding]:
    """The container's published ports, with the host ports that were chosen."""
    data = state.read_json(_path(container_id), {}) or {}
    return [PortBinding(**b) for b in data.get("bindings", [])]


def unpublish(container_id: str) -> None:
    """Stop the container's port proxy (if any) and forget its bindings."""
    path = _path(container_id)
    data = state.read_json(path)
    if data is None:
        return
    procs.stop(data.get("pid"), container_id)
    if data.get("pid") is None:  # the command that started it was killed before recording it
        for pid in procs.strays(MODULE, container_id):
            procs.stop(pid, container_id)
            repairs.note(f"container {container_id[:12]}: stopped a port proxy that was never recorded")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(FileNotFoundError):
        _log(container_id).unlink()


def _log(container_id: str) -> Path:
    return store.run_dir() / f"proxy-{container_id[:12]}.log"
