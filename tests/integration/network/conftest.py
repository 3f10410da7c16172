"""Fixtures for network integration tests: a private STACKUP_ROOT and network namespaces.

Every kernel object a test makes is named by that test (`stktest-<hex>` namespaces,
`sto<hex>` veths for the 'outside' namespace) and removed by it; the stackup
objects are removed through stackup, then checked gone.
"""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from stackup.testing.netns import Netns

pytestmark = pytest.mark.root


if os.geteuid() != 0:
    pytest.skip("network integration tests need root", allow_module_level=True)

@pytest.fixture
def stackup_root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("STACKUP_ROOT", str(root))
    yield root
    from stackup.engine import network
    from stackup.engine.network import store

    for f in (root / "ports").glob("*.json") if (root / "ports").is_dir() else []:
        network.unpublish(f.stem)
    for net in store.load_all():
        network.remove_network(net["id"], force=True)


@pytest.fixture
def netns():
    made: list[Netns] = []

    def make() -> Netns:
        ns = Netns(f"stktest-{secrets.token_hex(4)}")
        subprocess.run(["ip", "netns", "add", ns.name], check=True)
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.cleanup()


@pytest.fixture
def outside(netns):
    """A namespace acting as 'the outside': reachable from the host through a veth pair."""
    ns = netns()
    host_end = f"sto{secrets.token_hex(4)}"
    third = secrets.randbelow(250) + 1
    fourth = secrets.randbelow(60) * 4
    host_ip, ns_ip = f"198.18.{third}.{fourth + 1}", f"198.18.{third}.{fourth + 2}"
    subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                    "netns", ns.name], check=True)
    subprocess.run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_end], check=True)
    subprocess.run(["ip", "link", "set", host_end, "up"], check=True)
    ns.run("ip", "addr", "add", f"{ns_ip}/30", "dev", "eth0", check=True)
    ns.run("ip", "link", "set", "eth0", "up", check=True)
    ns.run("ip", "link", "set", "lo", "up", check=True)
    ns.host_ip, ns.ip = host_ip, ns_ip
    yield ns
    subprocess.run(["ip", "link", "del", host_end], capture_output=True)
