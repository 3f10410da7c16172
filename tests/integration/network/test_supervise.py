"""Helpers are supervised: a network's DNS server and a container's port proxy that were
SIGKILLed are found dead and started again (on the same address and port), with real
traffic before and after."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from stackup.engine import network, state
from stackup.engine.etcfiles import resolv_conf
from stackup.engine.network import Attachment, procs, store
from stackup.testing.netns import http_server, wait_tcp

pytestmark = pytest.mark.root


def kill_and_wait(pid: int, token: str) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while procs.alive(pid, token):
        assert time.monotonic() < deadline, f"{pid} survived SIGKILL"
        time.sleep(0.02)


def suspend(pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while not procs.suspended(pid):
        assert time.monotonic() < deadline, f"{pid} did not stop"
        time.sleep(0.01)


def refused(port: int, timeout: float = 10) -> bool:
    """The port refuses connections (once the killed proxy's last thread let go of it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def resolves(ns, name: str) -> str | None:
    """The address `name` resolves to inside `ns` (through the network's DNS server)."""
    found = ns.run("getent", "hosts", name, timeout=30).stdout.split()
    return found[0] if found else None


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return response.read().decode()


@pytest.fixture
def pair(stackup_root, netns, tmp_path):
    """A network `sup` with two attached namespaces: `a` (a client) and `b` (alias beta,
    serving HTTP on port 80)."""
    net = network.create_network("sup")
    a, b = netns(), netns()
    ea = network.connect("a" * 64, a.path, [Attachment("sup")])[0]
    eb = network.connect("b" * 64, b.path, [Attachment("sup", aliases=["beta"])])[0]
    a.write_etc(resolv=resolv_conf(ea.gateway))
    http_server(b, tmp_path, "hello from b")
    wait_tcp(eb.ip, 80)
    yield net, a, eb
    network.unpublish("b" * 64)
    network.disconnect("a" * 64)
    network.disconnect("b" * 64)


def test_a_killed_dns_server_is_seen_down_and_restarted(pair):
    net, a, eb = pair
    assert resolves(a, "beta") == eb.ip
    record = network.get_network("sup")
    assert network.dns_serving(record)
    kill_and_wait(record["dns_pid"], net["id"])
    assert not network.dns_serving(record)
    assert resolves(a, "beta") is None  # names stop resolving

    repaired = network.get_network("sup")
    assert repaired["dns_pid"] != record["dns_pid"] and network.dns_serving(repaired)
    assert resolves(a, "beta") == eb.ip
    assert network.get_network("sup")["dns_pid"] == repaired["dns_pid"]  # a serving one is kept


def test_the_dns_server_restarts_when_the_gateway_address_was_lost(pair):
    # a kill between making the bridge and addressing it leaves a bridge without its gateway
    # address: the DNS server's bind then fails with "Cannot assign requested address"
    net, a, eb = pair
    kill_and_wait(network.get_network("sup")["dns_pid"], net["id"])
    gateway = net["ipam"]["gateway"]
    prefix = net["ipam"]["subnet"].split("/")[1]
    subprocess.run(["ip", "route", "add", net["ipam"]["subnet"], "dev", net["bridge"], "metric", "4242"],
                   check=True)  # so that no other root takes the subnet while it has no address
    subprocess.run(["ip", "addr", "del", f"{gateway}/{prefix}", "dev", net["bridge"]], check=True)

    repaired = network.get_network("sup")
    assert network.dns_serving(repaired)
    assert resolves(a, "beta") == eb.ip


def test_a_killed_port_proxy_is_restarted_on_the_same_port(pair):
    net, a, eb = pair
    port = network.publish("b" * 64, eb.ip, ["127.0.0.1::80"])[0].host_port
    assert "hello from b" in get(port)
    assert network.proxy_serving("b" * 64) is True
    pid = json.loads((state.root() / "ports" / f"{'b' * 64}.json").read_text())["pid"]
    kill_and_wait(pid, "b" * 64)
    assert network.proxy_serving("b" * 64) is False
    assert refused(port)

    assert network.ensure_proxy("b" * 64) is True
    assert "hello from b" in get(port)
    assert [b.host_port for b in network.published("b" * 64)] == [port]
    assert network.ensure_proxy("b" * 64) is False  # a serving one is kept


def test_nothing_published_needs_no_proxy(pair):
    assert network.proxy_serving("a" * 64) is None
    assert network.ensure_proxy("a" * 64) is False


def test_an_unrecorded_dns_server_does_not_block_the_restart(pair):
    # a command killed between starting the server and recording it leaves one that holds
    # the gateway's port 53 while the record names none
    net, a, eb = pair
    record = network.get_network("sup")
    stray = record["dns_pid"]
    record["dns_pid"] = None
    store.save(record)

    repaired = network.get_network("sup")
    assert repaired["dns_pid"] != stray and network.dns_serving(repaired)
    assert not procs.alive(stray, net["id"])
    assert resolves(a, "beta") == eb.ip


def test_an_unrecorded_port_proxy_does_not_block_the_restart(pair):
    net, a, eb = pair
    port = network.publish("b" * 64, eb.ip, ["127.0.0.1::80"])[0].host_port
    path = state.root() / "ports" / f"{'b' * 64}.json"
    data = json.loads(path.read_text())
    stray = data["pid"]
    data["pid"] = None
    path.write_text(json.dumps(data))

    assert network.ensure_proxy("b" * 64) is True
    assert not procs.alive(stray, "b" * 64)
    assert "hello from b" in get(port)


def test_a_stopped_dns_server_that_answers_nobody_is_replaced(pair):
    net, a, eb = pair
    record = network.get_network("sup")
    suspend(record["dns_pid"])
    try:
        assert not network.dns_serving(record)
        repaired = network.get_network("sup")
        assert repaired["dns_pid"] != record["dns_pid"] and network.dns_serving(repaired)
        assert not procs.alive(record["dns_pid"], net["id"])
        assert resolves(a, "beta") == eb.ip
    finally:
        if procs.alive(record["dns_pid"], net["id"]):
            os.kill(record["dns_pid"], signal.SIGKILL)


def test_a_stopped_port_proxy_is_replaced(pair):
    net, a, eb = pair
    port = network.publish("b" * 64, eb.ip, ["127.0.0.1::80"])[0].host_port
    pid = json.loads((state.root() / "ports" / f"{'b' * 64}.json").read_text())["pid"]
    suspend(pid)
    try:
        assert network.proxy_serving("b" * 64) is False
        assert network.ensure_proxy("b" * 64) is True
        assert not procs.alive(pid, "b" * 64)
        assert "hello from b" in get(port)
    finally:
        if procs.alive(pid, "b" * 64):
            os.kill(pid, signal.SIGKILL)
