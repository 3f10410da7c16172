"""The userland port proxy of one container: `python -m stackup.engine.network.proxy ID SPEC RECORD`.

The caller binds the host sockets itself (so a taken port is an error before the
container starts) and passes them in; SPEC (JSON) says, per inherited fd, the
protocol and the container address to forward to. TCP connections are spliced
in both directions (no copies through Python buffers); UDP clients each get a
connected socket towards the container, dropped after a minute of silence. The
proxy exits by itself once RECORD (its file in the state) is gone.
Imports only the standard library.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

CHUNK = 1 << 20
F_SETPIPE_SZ = 1031
UDP_IDLE = 60.0


def pump(src: socket.socket, dst: socket.socket) -> None:
    """Move bytes src -> dst until EOF, then half-close dst."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, CHUNK)  # fewer, larger splices
    except OSError:
        pass  # over /proc/sys/fs/pipe-max-size: the default size works too
    try:
        while True:
            n = os.splice(src.fileno(), w, CHUNK)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dst.fileno(), n)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            continue
        threading.Thread(target=relay_tcp, args=(client, target), daemon=True).start()


def relay_tcp(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve_udp(listener: socket.socket, target: tuple[str, int]) -> None:
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    flows: dict[tuple, tuple[socket.socket, float]] = {}
    while True:
        for key, _ in sel.select(timeout=10):
            if key.data is None:
                data, client = listener.recvfrom(65535)
                flow = flows.get(client)
                if flow is None:
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.connect(target)
                    sel.register(up, selectors.EVENT_READ, client)
                    flow = (up, 0.0)
                flows[client] = (flow[0], time.monotonic())
                try:
                    flow[0].send(data)
                except OSError:
                    pass
            else:
                client = key.data
                up = flows[client][0]  # the socket registered for this client
                try:
                    data = up.recv(65535)
                    listener.sendto(data, client)
                    flows[client] = (up, time.monotonic())
                except OSError:
                    pass
        now = time.monotonic()
        for client, (up, seen) in list(flows.items()):
            if now - seen > UDP_IDLE:
                sel.unregister(up)
                up.close()
                del flows[client]


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    listeners = []
    for item in spec:
        family = socket.AF_INET6 if ":" in item["bind_ip"] else socket.AF_INET
        kind = socket.SOCK_STREAM if item["protocol"] == "tcp" else socket.SOCK_DGRAM
        listeners.append((socket.socket(family, kind, fileno=item["fd"]), item))
    from pathlib import Path

    from stackup.engine.network.procs import exit_when_gone

    exit_when_gone(Path(argv[2]))
    for sock, item in listeners:
        serve = serve_tcp if item["protocol"] == "tcp" else serve_udp
        threading.Thread(target=serve, args=(sock, (item["container_ip"], item["container_port"])),
                         daemon=True).start()
    while True:
        signal.pause()


if __name__ == "__main__":
    main(sys.argv[1:])
