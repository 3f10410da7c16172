"""Failure paths of create and attach, over a recording fake of the kernel layer (no root)."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from stackup.engine import network
from stackup.engine.network import Attachment, dns, firewall, links, networks, store


class FakeKernel:
    """Records what the engine asks of links/firewall/dns; fails where told to."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple] = []
        self.links: set[str] = set()
        self.fail_on: str | None = None
        for mod, name in [(links, "create_bridge"), (links, "delete_link"), (links, "create_veth"),
                          (links, "configure_inside"), (firewall, "open_network"),
                          (firewall, "close_network"), (dns, "start"), (dns, "forget")]:
            monkeypatch.setattr(mod, name, self.recorder(name))
        monkeypatch.setattr(links, "host_networks", lambda: ([ip_network("10.89.0.0/24")], []))
        monkeypatch.setattr(links, "exists", lambda name: name in self.links)
        monkeypatch.setattr(dns, "running", lambda net: True)

    def recorder(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, *args))
            if self.fail_on == name:
                raise OSError(f"{name} failed")
            if name in ("create_bridge", "create_veth"):
                self.links.add(args[0])
            if name == "delete_link":
                self.links.discard(args[0])
            return 4242 if name == "start" else None
        return call


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path))
    monkeypatch.setattr(store, "HOST_LOCK", tmp_path / "host.lock")
    return FakeKernel(monkeypatch)


def test_create_skips_the_hosts_routes_and_records_the_network(kernel):
    net = network.create_network("web")
    assert net["ipam"]["subnet"] == "10.89.1.0/24" and net["dns_pid"] == 4242
    assert store.find("web")["id"] == net["id"]


def test_failed_create_leaves_nothing(kernel):
    kernel.fail_on = "start"
    with pytest.raises(OSError):
        network.create_network("web")
    assert store.load_all() == []
    assert kernel.links == set()
    assert any(call[0] == "close_network" for call in kernel.calls)


def test_failed_attach_removes_what_it_made_and_records_nothing(kernel, monkeypatch):
    network.create_network("one")
    network.create_network("two")
    real = kernel.recorder("configure_inside")
    count = {"n": 0}

    def second_fails(*args, **kwargs):
        count["n"] += 1
        if count["n"] == 2:
            raise OSError("no room")
        return real(*args, **kwargs)

    monkeypatch.setattr(links, "configure_inside", second_fails)
    with pytest.raises(OSError):
        network.connect("c" * 64, Path("/nonexistent"), [Attachment("one"), Attachment("two")])
    assert [n["endpoints"] for n in store.load_all()] == [{}, {}]
    assert not any(name.startswith("stkv") for name in kernel.links)


def test_addresses_are_decided_before_anything_is_made(kernel):
    network.create_network("fixed", ipam_config={"subnet": "10.77.0.0/24"})
    network.connect("a" * 64, Path("/ns/a"), [Attachment("fixed", ipv4_address="10.77.0.9")])
    before = list(kernel.calls)
    with pytest.raises(Exception, match="already in use"):
        network.connect("b" * 64, Path("/ns/b"), [Attachment("fixed", ipv4_address="10.77.0.9")])
    assert kernel.calls == before


def test_first_non_internal_network_gives_the_default_route(kernel):
    network.create_network("inner", internal=True)
    network.create_network("outer")
    eps = network.connect("a" * 64, Path("/ns/a"), [Attachment("inner"), Attachment("outer")])
    configured = [c for c in kernel.calls if c[0] == "configure_inside"]
    assert configured[0][4] == []                        # inner: no gateway
    assert configured[1][4] == [eps[1].gateway]          # outer: the default route
    assert [e.ifname for e in eps] == ["eth0", "eth1"]


def test_removal_refused_while_attached_then_releases_addresses(kernel):
    network.create_network("web")
    ep = network.connect("a" * 64, Path("/ns/a"), [Attachment("web")])[0]
    with pytest.raises(Exception, match="in use"):
        networks.remove("web")
    network.disconnect("a" * 64)
    again = network.connect("b" * 64, Path("/ns/b"), [Attachment("web")])[0]
    assert again.ip == ep.ip  # the address was released
    network.remove_network("web", force=True)
    assert store.load_all() == []


def test_a_firewall_that_refuses_leaves_no_network(kernel):
    kernel.fail_on = "open_network"
    with pytest.raises(OSError):
        network.create_network("web")
    assert store.load_all() == []
    assert kernel.links == set()
    assert any(call[0] == "close_network" for call in kernel.calls)
