"""macvlan and ipvlan networks on a parent interface the test makes: a veth pair whose
host end is the parent and whose other end is in a namespace standing for the LAN.
Containers reach the LAN and each other, resolve each other's names, have no host-side
interface, and nothing of the network is left after its removal."""

from __future__ import annotations

import secrets
import subprocess
import time

import pytest

from stackup.engine import network
from stackup.engine.network import store
from stackup.errors import UnsupportedError, UserError
from stackup.testing.netns import http_server, join, tcp_from

pytestmark = pytest.mark.root


@pytest.fixture
def lan(netns):
    """A namespace on the far side of the parent interface (the host end of a veth pair),
    with the LAN's router address .1 of a /24 of its own."""
    ns = netns()
    parent = f"stl{secrets.token_hex(4)}"
    subnet = f"198.19.{secrets.randbelow(250) + 1}"
    subprocess.run(["ip", "link", "add", parent, "type", "veth", "peer", "name", "eth0",
                    "netns", ns.name], check=True)
    subprocess.run(["ip", "link", "set", parent, "up"], check=True)
    ns.run("ip", "addr", "add", f"{subnet}.1/24", "dev", "eth0", check=True)
    ns.run("ip", "link", "set", "eth0", "up", check=True)
    ns.run("ip", "link", "set", "lo", "up", check=True)
    ns.parent, ns.subnet, ns.ip = parent, f"{subnet}.0/24", f"{subnet}.1"
    yield ns
    subprocess.run(["ip", "link", "del", parent], capture_output=True)


def host_links(parent: str) -> set[str]:
    """The host's links that sit on `parent`."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = [line.split(":")[1].strip() for line in out.splitlines()]
    return {n for n in names if n.endswith(f"@{parent}")}


def parent_has_uppers(parent: str) -> bool:
    """Whether a macvlan or ipvlan interface (in any namespace) still sits on `parent`:
    the kernel refuses to make a port of a bridge of a link that has them."""
    bridge = f"stb{secrets.token_hex(4)}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        busy = subprocess.run(["ip", "link", "set", parent, "master", bridge], capture_output=True).returncode != 0
        subprocess.run(["ip", "link", "set", parent, "nomaster"], capture_output=True)
        return busy
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def wait_no_uppers(parent: str) -> bool:
    """A namespace's interfaces go when the kernel reaps it, a moment after its last user."""
    deadline = time.monotonic() + 10
    while parent_has_uppers(parent):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def dns_servers(net_id: str) -> str:
    ps = subprocess.run(["pgrep", "-af", "stackup.engine.network"], capture_output=True, text=True).stdout
    return "\n".join(line for line in ps.splitlines() if net_id in line)


def sublink_network(name: str, lan, driver: str, mode: str | None = None) -> dict:
    options = {"parent": lan.parent} | ({f"{driver}_mode": mode} if mode else {})
    try:
        return network.create_network(name, driver=driver, options=options,
                                      ipam_config=[{"subnet": lan.subnet, "gateway": lan.ip}])
    except UnsupportedError as exc:  # a kernel built without the driver
        assert not store.load_all()
        pytest.skip(str(exc))


@pytest.mark.parametrize(("driver", "mode", "kind"), [("macvlan", None, "macvlan mode bridge"),
                                                      ("ipvlan", "l2", "ipvlan  mode l2")])
def test_container_reaches_the_lan_and_its_peers_by_name(stackup_root, netns, lan, tmp_path,
                                                        driver, mode, kind):
    net = sublink_network("sub", lan, driver, mode)
    assert net["driver"] == driver and not net["bridge"]
    before = host_links(lan.parent)
    a, b = netns(), netns()
    ea = join(a, "sub", "a" * 64)
    eb = join(b, "sub", "b" * 64, aliases=["server"])
    # addresses from the subnet, the LAN's router kept out; DNS on an address of its own
    assert ea.ip.startswith(lan.subnet.rsplit(".", 1)[0]) and ea.ip != lan.ip
    assert ea.nameserver == net["dns_address"] and ea.nameserver not in (ea.ip, eb.ip, lan.ip)
    # the interface is made on the parent and lives in the namespace; nothing on the host
    assert kind in a.run("ip", "-d", "link", "show", "eth0").stdout
    assert host_links(lan.parent) == before
    assert f"default via {lan.ip} dev eth0" in a.run("ip", "route").stdout
    # the LAN (the namespace beyond the parent) is reached, and reaches the container
    http_server(lan, tmp_path, "from the lan")
    http_server(b, tmp_path, "from b")
    assert tcp_from(a, lan.ip, 80, timeout=5) == "ok from the lan"
    assert tcp_from(lan, eb.ip, 80, timeout=5) == "ok from b"
    # names resolve through the network's DNS server, on the parent too
    assert tcp_from(a, "server", 80, timeout=5) == "ok from b"
    assert f"{eb.ip}" in a.run("busybox", "nslookup", "server", ea.nameserver).stdout
    network.disconnect("a" * 64)
    assert a.run("ip", "link", "show", "eth0").returncode != 0  # taken from the namespace
    network.disconnect("b" * 64)
    network.remove_network("sub")
    # nothing left: no DNS server, so no namespace of its own; no interface on the parent
    assert dns_servers(net["id"]) == ""
    assert wait_no_uppers(lan.parent)
    assert host_links(lan.parent) == before
    assert lan.run("ip", "link", "show", "eth0").returncode == 0


def test_a_killed_dns_server_takes_its_interface_with_it_and_comes_back(stackup_root, netns, lan):
    net = sublink_network("sub", lan, "macvlan", "bridge")
    a = netns()
    ea = join(a, "sub", "a" * 64, aliases=["me"])
    subprocess.run(["kill", "-9", str(net["dns_pid"])], check=True)
    network.disconnect("a" * 64)
    assert wait_no_uppers(lan.parent)  # the server's namespace went with its sockets
    net = network.get_network("sub")  # repaired: a new server
    assert dns_servers(net["id"])
    ea = join(a, "sub", "a" * 64, aliases=["me"])
    assert ea.ip in a.run("busybox", "nslookup", "me", ea.nameserver).stdout
    network.disconnect("a" * 64)
    network.remove_network("sub")
    assert wait_no_uppers(lan.parent)


def test_a_container_whose_namespace_died_is_forgotten(stackup_root, netns, lan):
    sublink_network("sub", lan, "macvlan")
    a = netns()
    join(a, "sub", "a" * 64)
    a.cleanup()  # the namespace, and the interface in it, are gone without a disconnect
    assert network.get_network("sub")["endpoints"] == {}


@pytest.mark.parametrize(("options", "message"), [
    ({}, "needs driver_opts.parent"),
    ({"parent": "stnoneXYZ"}, "parent interface stnoneXYZ does not exist"),
    ({"parent": "stnone.7"}, "no VLAN sub-interface"),
    ({"parent": "PARENT", "macvlan_mode": "loud"}, "macvlan_mode must be one of bridge, private"),
    ({"parent": "PARENT", "ipvlan_mode": "l2"}, "not an option of the macvlan driver"),
])
def test_bad_options_are_refused_before_anything_is_made(stackup_root, lan, options, message):
    options = {k: lan.parent if v == "PARENT" else v for k, v in options.items()}
    with pytest.raises(UserError, match=message):
        network.create_network("sub", driver="macvlan", options=options)
    assert not store.load_all()
