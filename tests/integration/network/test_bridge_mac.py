"""A network's bridge has a MAC address of its own: adding and removing ports (the
containers' veths) leaves it as it was, so the gateway's address the containers have
learnt stays right (issue 14's scale-down: the bridge took the lowest port MAC and
changed it when that port went). In a namespace of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


@pytest.fixture
def netns():
    name = f"stk-brmac-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def mac(netns: str, ifname: str) -> str:
    out = subprocess.run(["ip", "-n", netns, "-o", "link", "show", ifname], capture_output=True, text=True,
                         check=True).stdout
    return out.split("link/ether ", 1)[1].split()[0]


def test_bridge_keeps_its_mac_when_ports_come_and_go(netns):
    script = "from stackup.engine.network import rtnl; rtnl.create_bridge('brmac0', [('10.250.77.1', 24)], None)"
    subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script], check=True, timeout=60)
    own = mac(netns, "brmac0")
    assert own != "00:00:00:00:00:00" and int(own.split(":")[0], 16) & 0x03 == 0x02  # local, unicast
    ip = ["ip", "-n", netns, "link"]
    # a port with a lower MAC than any random one would take over an unset bridge address
    subprocess.run(ip + ["add", "brmacv0", "address", "02:00:00:00:00:01", "type", "veth", "peer", "name",
                         "brmacv1"], check=True)
    subprocess.run(ip + ["set", "brmacv0", "master", "brmac0"], check=True)
    assert mac(netns, "brmac0") == own
    subprocess.run(ip + ["del", "brmacv0"], check=True)
    assert mac(netns, "brmac0") == own
    # made again over the existing bridge (a restart reusing it): the address stays
    subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script], check=True, timeout=60)
    assert mac(netns, "brmac0") == own
