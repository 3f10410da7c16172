"""Published ports carry real traffic from the host to a namespace, and fail cleanly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from stackup.engine import network
from stackup.engine.network import Attachment, procs
from stackup.errors import ConflictError
from stackup.testing.netns import http_server, wait_tcp

pytestmark = pytest.mark.root

UDP_ECHO = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0', 5353))\nwhile True:\n    d, a = s.recvfrom(65535)\n"
            "    s.sendto(b'echo:' + d, a)\n")
TCP_ECHO = ("import socket, threading\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', 7000)); s.listen()\n"
            "def serve(c):\n    while True:\n        d = c.recv(65536)\n        if not d:\n"
            "            c.shutdown(socket.SHUT_WR); return\n        c.sendall(d)\n"
            "while True:\n    threading.Thread(target=serve, args=(s.accept()[0],)).start()\n")


@pytest.fixture
def container(stackup_root, netns, tmp_path):
    network.create_network("pub")
    ns = netns()
    ep = network.connect("a" * 64, ns.path, [Attachment("pub")])[0]
    http_server(ns, tmp_path, "published hello")
    ns.spawn(sys.executable, "-c", UDP_ECHO)
    ns.spawn(sys.executable, "-c", TCP_ECHO)
    wait_tcp(ep.ip, 80)
    wait_tcp(ep.ip, 7000)
    return ep


def http_get(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode().strip()


def udp_roundtrip(host: str, port: int, payload: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(payload, (host, port))
        return s.recvfrom(65535)[0]


def test_host_reaches_published_tcp_and_udp_ports(container):
    bound = network.publish(container.container_id, container.ip,
                            ["127.0.0.1::80", "127.0.0.1::5353/udp", "127.0.0.1::7000"])
    assert all(b.host_port > 0 for b in bound)
    assert network.published(container.container_id) == bound
    assert http_get("127.0.0.1", bound[0].host_port) == "published hello"
    assert udp_roundtrip("127.0.0.1", bound[1].host_port, b"ping") == b"echo:ping"
    # a large transfer both ways through the proxy
    payload = os.urandom(4 << 20)
    with socket.create_connection(("127.0.0.1", bound[2].host_port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(1 << 16):
            got += chunk
    assert got == payload


def test_loopback_publishing_is_not_reachable_on_other_addresses(container):
    bound = network.publish(container.container_id, container.ip, ["127.0.0.1::80"])
    port = bound[0].host_port
    assert http_get("127.0.0.1", port) == "published hello"
    with pytest.raises(OSError):
        http_get(container.gateway, port)  # an address of this host, on the bridge


def test_all_addresses_publishing_with_a_fixed_port(container):
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        port = probe.getsockname()[1]
    network.publish(container.container_id, container.ip, [f"{port}:80"])
    assert http_get("127.0.0.1", port) == "published hello"
    assert http_get(container.gateway, port) == "published hello"


def test_port_in_use_is_a_clear_error_and_nothing_starts(container):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with pytest.raises(ConflictError, match=f"127.0.0.1:{port} is already in use"):
            network.publish(container.container_id, container.ip, ["127.0.0.1::5353/udp", f"127.0.0.1:{port}:80"])
        assert network.published(container.container_id) == []
        out = subprocess.run(["pgrep", "-f", f"stackup.engine.network.proxy {container.container_id}"],
                             capture_output=True, text=True).stdout
        assert out == ""
    finally:
        busy.close()
    # the port is usable once it is free
    assert network.publish(container.container_id, container.ip, [f"127.0.0.1:{port}:80"])[0].host_port == port


def test_unpublish_stops_the_proxy_and_frees_the_port(container, stackup_root):
    bound = network.publish(container.container_id, container.ip, ["127.0.0.1::80"])
    record = stackup_root / "ports" / f"{container.container_id}.json"
    pid = json.loads(record.read_text())["pid"]
    assert procs.alive(pid, container.container_id)
    network.unpublish(container.container_id)
    assert not procs.alive(pid, container.container_id)
    assert not record.exists()
    with socket.socket() as s:
        s.bind(("127.0.0.1", bound[0].host_port))  # free again
