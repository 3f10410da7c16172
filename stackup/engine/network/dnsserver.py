"""The per-network DNS server: `python -m stackup.engine.network.dnsserver ROOT NETWORK_ID ADDR UDP_FD TCP_FD`.

Runs detached, one per network, on sockets bound to the bridge's gateway address,
port 53, by the command that starts it (`dns.start`): a clash is that command's error
at once, and queries wait in the sockets until the server reads them, so nobody waits
for the server to start. What it answers: dnsresolver.py.
"""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import sys
import threading
from pathlib import Path

def serve_udp(sock: socket.socket, resolver) -> None:
    """Local names are answered inline (fast); forwarded queries get a thread each."""
    from stackup.engine.network.dnsresolver import forward

    def forward_and_reply(data: bytes, client, fallback: bytes | None, upstreams: list[str]) -> None:
        answer = forward(data, upstreams) or fallback
        if answer:
            sock.sendto(answer, client)

    while True:
        try:
            data, client = sock.recvfrom(65535)
            answer, upstreams = resolver.resolve(data, client[0])
            if upstreams:
                threading.Thread(target=forward_and_reply, args=(data, client, answer, upstreams),
                                 daemon=True).start()
            elif answer:
                sock.sendto(answer, client)
        except Exception as exc:  # noqa: BLE001 - one bad query must not stop the server
            print(f"dns: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def serve_tcp(resolver, listener: socket.socket) -> socketserver.TCPServer:
    """A threading TCP server on the already listening socket."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn = self.request
            conn.settimeout(10)
            while True:
                head = _recv_exact(conn, 2)
                data = _recv_exact(conn, int.from_bytes(head, "big")) if head else b""
                answer = resolver.answer(data, self.client_address[0]) if data else None
                if not answer:
                    return
                conn.sendall(len(answer).to_bytes(2, "big") + answer)

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(listener.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    return server


def serve(root: Path, network_id: str, udp: socket.socket, tcp: socket.socket) -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    from stackup.engine.network.procs import exit_when_gone

    exit_when_gone(root / "networks" / f"{network_id}.json")
    from stackup.engine.etcfiles import host_resolv
    from stackup.engine.network.dnsresolver import Records, Resolver

    host = host_resolv()
    upstreams = [u for u in os.environ.get("STACKUP_DNS_UPSTREAMS", "").split(",") if u] or host.servers
    resolver = Resolver(Records(root, network_id), upstreams, host.search)
    threading.Thread(target=serve_tcp(resolver, tcp).serve_forever, daemon=True).start()
    serve_udp(udp, resolver)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return b""
        buf += chunk
    return buf


def main(argv: list[str]) -> None:
    root, network_id, udp_fd, tcp_fd = Path(argv[0]), argv[1], int(argv[3]), int(argv[4])
    serve(root, network_id, socket.socket(fileno=udp_fd), socket.socket(fileno=tcp_fd))


if __name__ == "__main__":
    main(sys.argv[1:])
