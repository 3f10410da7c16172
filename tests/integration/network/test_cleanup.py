"""After removal nothing of stackup's remains, also after its helpers were SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackup.engine import network
from stackup.engine.etcfiles import resolv_conf
from stackup.engine.network import Attachment, firewall, iptables, nft, procs
from stackup.engine.network.names import veth_name
from stackup.testing.netns import http_server, wait_tcp

pytestmark = pytest.mark.root


def leftovers(net: dict, container_ids: list[str], proxy_pids: list[int]) -> list[str]:
    """What of this network (and these containers) is still in the kernel or running."""
    found = []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    if f" {net['bridge']}:" in links:
        found.append(f"bridge {net['bridge']}")
    for cid in container_ids:
        if f" {veth_name(cid, net['id'])}@" in links:
            found.append(f"veth of {cid[:12]}")
    addrs = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    if f" {net['ipam']['gateway']}/" in addrs:
        found.append(f"address {net['ipam']['gateway']}")
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    if net["ipam"]["subnet"] in routes:
        found.append(f"route {net['ipam']['subnet']}")
    found += firewall.leftovers(net["bridge"])
    ps = subprocess.run(["pgrep", "-af", "stackup.engine.network"], capture_output=True, text=True).stdout
    if net["id"] in ps:
        found.append("dns server")
    for pid in proxy_pids:
        if Path(f"/proc/{pid}").exists() and b"stackup" in Path(f"/proc/{pid}/cmdline").read_bytes():
            found.append(f"proxy {pid}")
    return found


def wait_dead(pid: int, token: str) -> None:
    deadline = time.monotonic() + 10
    while procs.alive(pid, token):
        assert time.monotonic() < deadline, f"{pid} survived SIGKILL"
        time.sleep(0.02)


def stackup_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackup", *args], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=60)


def test_nothing_remains_after_removal_even_after_sigkill(stackup_root, netns, tmp_path):
    net = network.create_network("gone")
    a, b = netns(), netns()
    ea = network.connect("a" * 64, a.path, [Attachment("gone", aliases=["alpha"])])[0]
    eb = network.connect("b" * 64, b.path, [Attachment("gone", aliases=["beta"])])[0]
    a.write_etc(resolv=resolv_conf(ea.gateway))
    http_server(b, tmp_path, "b")
    wait_tcp(eb.ip, 80)
    network.publish("b" * 64, eb.ip, ["127.0.0.1::80"])
    proxy_pid = json.loads((stackup_root / "ports" / f"{'b' * 64}.json").read_text())["pid"]

    # the DNS server and the port proxy are killed outright
    dns_pid = network.get_network("gone")["dns_pid"]
    os.kill(dns_pid, signal.SIGKILL)
    os.kill(proxy_pid, signal.SIGKILL)
    wait_dead(dns_pid, net["id"])

    # the next command notices and brings the DNS server back
    assert stackup_cli("network", "ls").returncode == 0
    restarted = network.get_network("gone")["dns_pid"]
    assert restarted != dns_pid and procs.alive(restarted, net["id"])
    assert a.run("getent", "hosts", "beta").stdout.split()[0] == eb.ip

    # and it is killed again, then everything is removed
    os.kill(restarted, signal.SIGKILL)
    wait_dead(restarted, net["id"])
    network.unpublish("b" * 64)
    network.disconnect("a" * 64)
    network.disconnect("b" * 64)
    result = stackup_cli("network", "rm", "gone")
    assert result.returncode == 0, result.stderr
    assert leftovers(net, ["a" * 64, "b" * 64], [proxy_pid, dns_pid, restarted]) == []
    assert list((stackup_root / "networks").glob("*.json")) == []
    assert not list((stackup_root / "ports").glob("*.json"))


def test_a_namespace_that_died_leaves_a_stale_endpoint_that_is_dropped(stackup_root, netns):
    net = network.create_network("stale")
    ns = netns()
    network.connect("c" * 64, ns.path, [Attachment("stale")])
    ns.cleanup()  # the container's namespace goes away without a detach (a killed container)
    veth = veth_name("c" * 64, net["id"])
    deadline = time.monotonic() + 10  # the kernel destroys a namespace asynchronously
    while f" {veth}@" in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, "the namespace's veth outlived it"
        time.sleep(0.05)
    # removal is not blocked by the dead endpoint, and nothing remains
    network.remove_network("stale")
    assert leftovers(net, ["c" * 64], []) == []


def test_removing_a_network_in_use_is_refused(stackup_root, netns):
    network.create_network("busy")
    ns = netns()
    network.connect("d" * 64, ns.path, [Attachment("busy", container_name="web-1")])
    result = stackup_cli("network", "rm", "busy")
    assert result.returncode == 2
    assert "network busy is in use by web-1" in result.stderr
    assert "Traceback" not in result.stderr


def test_other_roots_rules_survive(stackup_root, netns, tmp_path, monkeypatch):
    mine = network.create_network("mine")
    monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "other-root"))
    theirs = network.create_network("theirs")
    try:
        monkeypatch.setenv("STACKUP_ROOT", str(stackup_root))
        network.remove_network("mine")
        # the shared nft table and iptables chain keep the other root's rules
        assert nft.rules_of(theirs["bridge"]) and iptables.rules_of(theirs["bridge"])
        assert firewall.leftovers(mine["bridge"]) == []
    finally:
        monkeypatch.setenv("STACKUP_ROOT", str(tmp_path / "other-root"))
        network.remove_network("theirs")
    assert leftovers(theirs, [], []) == []


def test_helpers_exit_when_their_record_is_gone(stackup_root, netns):
    """A command that crashed between deleting a record and stopping its helper leaks nothing."""
    net = network.create_network("orphan")
    ns = netns()
    ep = network.connect("e" * 64, ns.path, [Attachment("orphan")])[0]
    network.publish("e" * 64, ep.ip, ["127.0.0.1::80"])
    ports_record = stackup_root / "ports" / f"{'e' * 64}.json"
    proxy_pid = json.loads(ports_record.read_text())["pid"]
    net_record = stackup_root / "networks" / f"{net['id']}.json"
    saved = net_record.read_bytes()
    ports_record.unlink()
    net_record.unlink()
    wait_dead(proxy_pid, "e" * 64)
    wait_dead(net["dns_pid"], net["id"])
    net_record.write_bytes(saved)  # put it back so the network can be removed properly
    network.disconnect("e" * 64)
    network.remove_network("orphan")
    assert leftovers(net, ["e" * 64], [proxy_pid, net["dns_pid"]]) == []


@pytest.mark.parametrize("dns_killed", [True, False])
def test_a_network_whose_kernel_objects_vanished_is_rebuilt_on_join(stackup_root, netns, dns_killed):
    """As after a reboot: the state says the network exists, the kernel has nothing."""
    net = network.create_network("reborn")
    if dns_killed:
        os.kill(net["dns_pid"], signal.SIGKILL)
        wait_dead(net["dns_pid"], net["id"])
    firewall.close_network(net["bridge"])
    subprocess.run(["ip", "link", "del", net["bridge"]], check=True)
    a, b = netns(), netns()
    network.connect("a" * 64, a.path, [Attachment("reborn")])
    eb = network.connect("b" * 64, b.path, [Attachment("reborn", aliases=["bee"])])[0]
    assert nft.rules_of(net["bridge"]) and len(iptables.rules_of(net["bridge"])) == 3
    assert eb.ip in a.run("busybox", "nslookup", "bee", eb.gateway).stdout
    network.disconnect("a" * 64)
    network.disconnect("b" * 64)
    pids = [net["dns_pid"], network.get_network("reborn")["dns_pid"]]
    network.remove_network("reborn")
    assert leftovers(net, ["a" * 64, "b" * 64], pids) == []


def test_rules_left_by_a_vanished_bridge_go_with_the_next_network(stackup_root):
    """As after a crash between deleting a bridge and its rules: the next network made
    on the host drops the rules of bridges that no longer exist."""
    gone = network.create_network("gone")
    subprocess.run(["ip", "link", "del", gone["bridge"]], check=True)
    assert iptables.rules_of(gone["bridge"])
    network.create_network("next")
    assert iptables.rules_of(gone["bridge"]) == []
    network.remove_network("gone")
    network.remove_network("next")
    assert leftovers(gone, [], []) == []
