"""The network engine through the runtime's wiring interface (a namespace made by the test)."""

from __future__ import annotations

import socket

import pytest

from stackup.engine import network
from stackup.engine.network import runtime_wiring
from stackup.errors import ConflictError
from stackup.testing.netns import http_server, wait_tcp

pytestmark = pytest.mark.root


def test_connect_writes_files_publishes_and_disconnect_undoes_it(stackup_root, netns, tmp_path):
    network.create_network("proj_default")
    network.create_network("proj_back", internal=True)
    ns = netns()
    hosts, resolv = tmp_path / "hosts", tmp_path / "resolv.conf"
    spec = {"networks": {"proj_back": {"aliases": ["b"]},
                         "proj_default": {"aliases": ["web"], "priority": 10}},
            "hostname": "web-host", "name": "proj-web-1", "extra_hosts": ["gw:host-gateway"],
            "dns_search": ["example.internal"], "ports": ["127.0.0.1::80"],
            "hosts_file": str(hosts), "resolv_conf": str(resolv)}
    wiring = runtime_wiring()
    result = wiring.connect("a" * 64, str(ns.path), spec)
    default = result["networks"]["proj_default"]
    assert default["ifname"] == "eth0" and result["networks"]["proj_back"]["ifname"] == "eth1"
    assert f"{default['ip']}\tweb-host" in hosts.read_text()
    assert f"{default['gateway']}\tgw" in hosts.read_text()
    assert resolv.read_text() == f"nameserver {default['gateway']}\nsearch example.internal\n"
    http_server(ns, tmp_path, "via wiring")
    wait_tcp(default["ip"], 80)
    port = result["ports"][0]["host_port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"via wiring" in s.makefile("rb").read()
    wiring.disconnect("a" * 64)
    wiring.disconnect("a" * 64)  # repeats are fine
    assert network.published("a" * 64) == []
    assert network.get_network("proj_default")["endpoints"] == {}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_taken_port_fails_the_connect(stackup_root, netns):
    network.create_network("p2")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(ConflictError, match="already in use"):
            runtime_wiring().connect("b" * 64, str(netns().path),
                                      {"networks": ["p2"], "ports": [f"127.0.0.1:{busy.getsockname()[1]}:80"]})
    finally:
        busy.close()
    assert network.get_network("p2")["endpoints"] == {}
