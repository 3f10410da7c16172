"""IPv6 and dual stack: addresses of both families, AAAA answers, IPv6 traffic between
containers, published ports on [::1], isolation and internal networks for IPv6, NAT66,
and nothing of it left afterwards (routes included)."""

from __future__ import annotations

import subprocess
from ipaddress import ip_address, ip_network

import pytest

from stackup.engine import network
from stackup.engine.network import firewall, iptables, nft
from stackup.errors import ConflictError, UserError
from stackup.testing.netns import http_server, join, tcp_from

pytestmark = pytest.mark.root

AAAA = ("import sys, socket; print(' '.join(sorted({a[4][0] for a in "
        "socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET6, socket.SOCK_STREAM)})))")


def addresses(ns, family: str) -> list[str]:
    out = ns.run("ip", "-o", f"-{family}", "addr", "show", "scope", "global").stdout
    return [line.split()[3] for line in out.splitlines()]


def wait_tcp6_in(ns, host: str, port: int) -> None:
    ns.py("import socket, sys, time\nfor _ in range(200):\n    try:\n"
          "        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close(); break\n"
          "    except OSError:\n        time.sleep(0.05)\n", host, str(port))


def host_routes(bridge: str) -> str:
    return (subprocess.run(["ip", "-6", "route"], capture_output=True, text=True).stdout
            + subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
            + subprocess.run(["ip", "-6", "rule"], capture_output=True, text=True).stdout)


def test_dual_stack_addresses_names_and_traffic(stackup_root, netns, tmp_path):
    net = network.create_network("dual", enable_ipv6=True)
    subnets = [ip_network(s["subnet"]) for s in net["subnets"]]
    assert [s.version for s in subnets] == [4, 6]
    assert subnets[1].subnet_of(ip_network("fd00::/8")) and subnets[1].prefixlen == 64
    a, b = netns(), netns()
    ea = join(a, "dual", "a" * 64)
    eb = join(b, "dual", "b" * 64, aliases=["server"])
    assert ip_address(eb.ip).version == 4 and ip_address(eb.ip6) in subnets[1]
    assert addresses(b, "4") == [f"{eb.ip}/24"] and addresses(b, "6") == [f"{eb.ip6}/64"]
    assert ea.gateway6 == str(subnets[1][1])
    # a default route of each family, through the bridge's gateways
    assert f"default via {ea.gateway6}" in a.run("ip", "-6", "route").stdout
    # AAAA from the network's DNS server (and A as before)
    assert a.py(AAAA, "server").stdout.strip() == eb.ip6
    answer = a.run("busybox", "nslookup", "-type=AAAA", "server", ea.gateway).stdout
    assert eb.ip6 in answer
    # a connection over IPv6, between two containers
    http_server(b, tmp_path, "over six")
    wait_tcp6_in(a, eb.ip6, 80)
    assert tcp_from(a, eb.ip6, 80) == "ok over six"
    assert tcp_from(a, "server", 80) == "ok over six"
    # the reverse name of an IPv6 address
    ptr = a.run("busybox", "nslookup", eb.ip6, ea.gateway).stdout
    assert "ip6.arpa\tname = server" in ptr
    # a port published on every address answers on [::1] (and 127.0.0.1)
    bindings = network.publish("b" * 64, eb.ip, ["80"])
    port = bindings[0].host_port
    for host in ("::1", "127.0.0.1"):
        with __import__("socket").create_connection((host, port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert b"over six" in s.makefile("rb").read()
    network.unpublish("b" * 64)
    # the rules: one table for both families, NAT66 for the IPv6 subnet
    rules = nft.listing("table", "inet", "stackup")
    assert rules is not None
    text = subprocess.run(["nft", "list", "table", "inet", "stackup"], capture_output=True, text=True).stdout
    assert f"ip6 saddr {subnets[1]}" in text and "masquerade" in text
    if iptables.tools(6) and iptables.read(6) is not None:
        assert len(iptables.rules_of(net["bridge"], 6)) == 3
    network.disconnect("a" * 64)
    network.disconnect("b" * 64)
    network.remove_network("dual")
    assert str(subnets[1]) not in host_routes(net["bridge"]) and net["bridge"] not in host_routes(net["bridge"])
    assert firewall.leftovers(net["bridge"]) == []


def test_static_addresses_and_several_ipam_entries(stackup_root, netns):
    net = network.create_network("static", enable_ipv6=True, ipam_config=[
        {"subnet": "10.231.5.0/24", "ip_range": "10.231.5.128/25", "aux_addresses": {"r": "10.231.5.129"}},
        {"subnet": "10.231.6.0/24", "gateway": "10.231.6.254"},
        {"subnet": "fd5c:2d6a:9fff:1::/64", "gateway": "fd5c:2d6a:9fff:1::fe"},
    ])
    assert [s["subnet"] for s in net["subnets"]] == ["10.231.5.0/24", "10.231.6.0/24", "fd5c:2d6a:9fff:1::/64"]
    a, b, c = netns(), netns(), netns()
    ea = join(a, "static", "a" * 64)
    assert ea.ip == "10.231.5.130" and ea.ip6 == "fd5c:2d6a:9fff:1::1"  # ip_range, aux skipped
    eb = join(b, "static", "b" * 64, ipv4_address="10.231.6.7", ipv6_address="fd5c:2d6a:9fff:1::77")
    assert (eb.ip, eb.ip6, eb.gateway) == ("10.231.6.7", "fd5c:2d6a:9fff:1::77", "10.231.6.254")
    assert addresses(b, "6") == ["fd5c:2d6a:9fff:1::77/64"]
    assert "default via fd5c:2d6a:9fff:1::fe" in b.run("ip", "-6", "route").stdout
    bridge = subprocess.run(["ip", "-o", "addr", "show", "dev", net["bridge"]], capture_output=True,
                            text=True).stdout
    for gateway in ("10.231.5.1/24", "10.231.6.254/24", "fd5c:2d6a:9fff:1::fe/64"):
        assert gateway in bridge
    # the second IPv4 subnet is reached through the bridge's gateway on it; IPv6 on the link
    assert a.run("busybox", "ping", "-c1", "-W2", "10.231.6.7").returncode == 0
    assert a.run("busybox", "ping", "-6", "-c1", "-W2", "fd5c:2d6a:9fff:1::77").returncode == 0
    with pytest.raises(ConflictError, match="already in use"):
        join(c, "static", "c" * 64, ipv6_address="fd5c:2d6a:9fff:1::77")
    with pytest.raises(UserError, match="not inside"):
        join(c, "static", "c" * 64, ipv6_address="fd00:9::1")
    for cid in ("a", "b"):
        network.disconnect(cid * 64)


def test_ipv6_only_network(stackup_root, netns, tmp_path):
    net = network.create_network("sixonly", enable_ipv6=True, enable_ipv4=False)
    assert [ip_network(s["subnet"]).version for s in net["subnets"]] == [6]
    a, b = netns(), netns()
    ea = join(a, "sixonly", "a" * 64)
    eb = join(b, "sixonly", "b" * 64, aliases=["server"])
    assert ":" in eb.ip and eb.ip6 == "" and addresses(b, "4") == []
    assert a.py(AAAA, "server").stdout.strip() == eb.ip  # through the DNS server on the IPv6 gateway
    assert ":" in ea.gateway
    http_server(b, tmp_path, "six only")
    wait_tcp6_in(a, eb.ip, 80)
    assert tcp_from(a, "server", 80) == "ok six only"
    for cid in ("a", "b"):
        network.disconnect(cid * 64)


def test_ipv6_isolation_between_networks_and_internal(stackup_root, netns, tmp_path):
    network.create_network("six-a", enable_ipv6=True)
    network.create_network("six-b", enable_ipv6=True)
    network.create_network("six-in", enable_ipv6=True, internal=True)
    a, b, b2, i = netns(), netns(), netns(), netns()
    join(a, "six-a", "a" * 64)
    eb = join(b, "six-b", "b" * 64)
    join(b2, "six-b", "c" * 64)
    ei = join(i, "six-in", "d" * 64)
    http_server(b, tmp_path, "b")
    wait_tcp6_in(b2, eb.ip6, 80)
    assert tcp_from(b2, eb.ip6, 80) == "ok b"  # control: the same network works
    assert tcp_from(a, eb.ip6, 80).startswith("fail")  # another network's container does not
    # an internal network has no IPv6 way out: no default route, and the host forwards none
    assert "default" not in i.run("ip", "-6", "route").stdout
    i.run("ip", "-6", "route", "add", "default", "via", ei.gateway6)
    assert tcp_from(i, eb.ip6, 80).startswith("fail")
    for cid in ("a", "b", "c", "d"):
        network.disconnect(cid * 64)
