"""Real traffic between network namespaces joined through stackup's bridges."""

from __future__ import annotations

import subprocess

import pytest

from stackup.engine import network
from stackup.engine.network import Attachment
from stackup.errors import ConflictError
from stackup.testing.netns import caller_echo_server, http_server, join, tcp_from, wait_tcp

pytestmark = pytest.mark.root

GETENT = "import socket, sys; print(' '.join(sorted(socket.gethostbyname_ex(sys.argv[1])[2])))"


def resolve(ns, name: str) -> str:
    return ns.py(GETENT, name).stdout.strip()


def test_two_endpoints_talk_by_name_and_alias(stackup_root, netns, tmp_path):
    network.create_network("app")
    a, b = netns(), netns()
    join(a, "app", "a" * 64, container_name="client-1", aliases=["client"])
    eb = join(b, "app", "b" * 64, container_name="server-1", aliases=["server", "db"], hostname="srv")
    http_server(b, tmp_path, "hello from b")
    wait_tcp(eb.ip, 80)
    for name in ("server", "db", "server-1", "srv"):
        assert resolve(a, name) == eb.ip
        assert tcp_from(a, name, 80) == "ok hello from b"
    # busybox nslookup asks the network's DNS server on the gateway directly
    out = a.run("busybox", "nslookup", "db", eb.gateway).stdout
    assert eb.ip in out
    # getent (glibc, dynamically linked) through the resolv.conf stackup wrote
    assert a.run("getent", "hosts", "server").stdout.split()[0] == eb.ip
    # DNS over TCP too (what resolvers fall back to for large answers)
    tcp = a.py("import sys; from dnslib import DNSRecord; "
               "print(DNSRecord.parse(DNSRecord.question('db').send(sys.argv[1], 53, tcp=True, timeout=5)).a.rdata)",
               eb.gateway)
    assert tcp.stdout.strip() == eb.ip, tcp.stderr


def test_replicas_share_the_service_name(stackup_root, netns):
    network.create_network("svc")
    client = netns()
    join(client, "svc", "c" * 64)
    ips = sorted(join(netns(), "svc", f"{i}" * 64, aliases=["web"]).ip for i in (1, 2))
    assert resolve(client, "web") == " ".join(sorted(ips))


def test_a_later_container_is_found_without_restarting_anyone(stackup_root, netns, tmp_path):
    network.create_network("late")
    early = netns()
    join(early, "late", "e" * 64)
    assert resolve(early, "newcomer") == ""
    newcomer = netns()
    ep = join(newcomer, "late", "f" * 64, aliases=["newcomer"])
    http_server(newcomer, tmp_path, "late but here")
    wait_tcp(ep.ip, 80)
    assert resolve(early, "newcomer") == ep.ip
    assert tcp_from(early, "newcomer", 80) == "ok late but here"
    network.disconnect("f" * 64)
    assert resolve(early, "newcomer") == ""


def test_two_networks_are_isolated(stackup_root, netns, tmp_path):
    network.create_network("one")
    network.create_network("two")
    a, b, b2 = netns(), netns(), netns()
    join(a, "one", "a" * 64)
    eb = join(b, "two", "b" * 64, aliases=["bee"])
    join(b2, "two", "c" * 64)
    http_server(b, tmp_path, "b")
    wait_tcp(eb.ip, 80)
    assert tcp_from(b2, eb.ip, 80) == "ok b"  # control: same network works
    assert tcp_from(a, eb.ip, 80).startswith("fail")
    assert resolve(a, "bee") == ""  # names are per network
    # ...even when asking the other network's DNS server directly
    assert eb.ip not in a.run("busybox", "nslookup", "bee", eb.gateway).stdout


def test_a_container_on_two_networks(stackup_root, netns):
    network.create_network("front", options={"com.docker.network.driver.mtu": "1400"})
    network.create_network("back", internal=True)
    ns = netns()
    eps = network.connect("d" * 64, ns.path, [Attachment("back"), Attachment("front")])
    assert [e.ifname for e in eps] == ["eth0", "eth1"]
    routes = ns.run("ip", "route", "show", "default").stdout
    # the internal network gives no way out: the default route is the other network's
    assert f"via {eps[1].gateway} dev eth1" in routes
    assert "mtu 1400" in ns.run("ip", "link", "show", "eth1").stdout


def test_static_address_and_duplicates(stackup_root, netns):
    network.create_network("fixed", ipam_config={"subnet": "10.213.7.0/24"})
    a, b = netns(), netns()
    ep = network.connect("a" * 64, a.path, [Attachment("fixed", ipv4_address="10.213.7.50")])[0]
    assert ep.ip == "10.213.7.50"
    assert "10.213.7.50/24" in a.run("ip", "addr", "show", "eth0").stdout
    with pytest.raises(ConflictError, match="already in use"):
        network.connect("b" * 64, b.path, [Attachment("fixed", ipv4_address="10.213.7.50")])
    assert "eth0" not in b.run("ip", "link").stdout  # nothing half made
    assert "b" * 64 not in network.get_network("fixed")["endpoints"]


def test_internal_network_has_no_way_out(stackup_root, netns, outside, tmp_path):
    network.create_network("normal")
    network.create_network("sealed", internal=True)
    caller_echo_server(outside)
    free, sealed = netns(), netns()
    join(free, "normal", "a" * 64)
    es = join(sealed, "sealed", "b" * 64)
    wait_tcp(outside.ip, 80)
    # the normal network reaches the outside, masqueraded behind the host's address
    assert tcp_from(free, outside.ip, 80) == f"ok from {outside.host_ip}"
    # the internal one has no route out...
    assert tcp_from(sealed, outside.ip, 80).startswith("fail")
    # ...and even with a route added by hand, the host does not forward its traffic
    sealed.run("ip", "route", "add", "default", "via", es.gateway, check=True)
    assert tcp_from(sealed, outside.ip, 80, timeout=1).startswith("fail")
    # names of the outside world are not forwarded from an internal network
    assert sealed.run("busybox", "nslookup", "example.org", es.gateway).returncode != 0


def test_attach_to_a_missing_network(stackup_root, netns):
    from stackup.errors import NotFoundError

    with pytest.raises(NotFoundError, match="nope"):
        network.connect("a" * 64, netns().path, [Attachment("nope")])


def test_none_mode_gets_loopback_only(netns):
    ns = netns()
    network.loopback_only(ns.path)
    out = subprocess.run(["ip", "netns", "exec", ns.name, "ip", "-br", "link"], capture_output=True,
                         text=True).stdout
    assert "lo" in out and "UNKNOWN" in out.splitlines()[0]
