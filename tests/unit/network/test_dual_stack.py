"""Dual stack, pure parts: address plans of both families, AAAA lookups, ip6.arpa names,
the local volume driver's options."""

from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from stackup.engine import volumemounts
from stackup.engine.network import ipam, nft, records
from stackup.errors import ConflictError, UserError


def test_enable_ipv6_adds_a_ula_64_that_avoids_the_hosts_routes():
    taken = [ip_network("fd5c:2d6a:9f00::/64"), ip_network("10.89.0.0/24")]
    plans = ipam.plan_all([], taken, ipv6=True)
    assert [str(p.subnet) for p in plans] == ["10.89.1.0/24", "fd5c:2d6a:9f00:1::/64"]
    assert str(plans[1].gateway) == "fd5c:2d6a:9f00:1::1"


def test_several_entries_keep_their_order_within_a_family_ipv4_first():
    plans = ipam.plan_all([{"subnet": "fd00:1::/64"}, {"subnet": "10.5.0.0/24"}, {"subnet": "10.6.0.0/24"}],
                          [], ipv6=True)
    assert [str(p.subnet) for p in plans] == ["10.5.0.0/24", "10.6.0.0/24", "fd00:1::/64"]
    with pytest.raises(UserError, match="enable_ipv6 is not set"):
        ipam.plan_all([{"subnet": "fd00:1::/64"}], [])
    with pytest.raises(UserError, match="subnet is required"):
        ipam.plan_all([{"subnet": "10.5.0.0/24"}, {}], [])
    with pytest.raises(ConflictError, match="overlaps"):
        ipam.plan_all([{"subnet": "10.5.0.0/24"}, {"subnet": "10.5.0.128/25"}], [])
    assert [p.version for p in ipam.plan_all([], [], ipv4=False, ipv6=True)] == [6]


def test_addresses_of_a_family_come_from_the_subnet_holding_the_one_asked_for():
    plans = ipam.plan_all([{"subnet": "10.5.0.0/30"}, {"subnet": "10.6.0.0/24"}, {"subnet": "fd00:1::/64"}],
                          [], ipv6=True)
    assert ipam.allocate_family(plans, 4, [])[1] == ip_address("10.5.0.2")
    assert ipam.allocate_family(plans, 4, [ip_address("10.5.0.2")])[1] == ip_address("10.6.0.2")  # first full
    assert ipam.allocate_family(plans, 6, [], "fd00:1::9")[1] == ip_address("fd00:1::9")
    with pytest.raises(UserError, match="no IPv6 subnet"):
        ipam.allocate_family(plans[:2], 6, [], "fd00:1::9")
    assert ipam.allocate_family(plans[:2], 6, []) is None


def test_aaaa_and_ptr_of_dual_stack_endpoints():
    net = {"id": "n", "endpoints": {
        "a": {"ip": "10.5.0.2", "ip6": "fd00:1::2", "names": ["a"]},
        "b": {"ip": "fd00:2::3", "names": ["b"]}}}  # an IPv6-only endpoint
    assert records.lookup([net], "n", "10.5.0.2", "a") == ["10.5.0.2"]
    assert records.lookup([net], "n", "fd00:1::2", "a", version=6) == ["fd00:1::2"]
    assert records.lookup([net], "n", "10.5.0.2", "b") == []
    assert records.lookup([net], "n", "10.5.0.2", "b", version=6) == ["fd00:2::3"]
    name = ".".join(reversed(f"{int(ip_address('fd00:1::2')):032x}")) + ".ip6.arpa."
    assert records.ptr_to_ip(name) == "fd00:1::2"
    assert records.reverse([net], "n", "10.5.0.2", "fd00:1::2") == "a"


def test_ipv6_subnets_are_masqueraded_from_the_inet_table():
    rules = nft.network_rules("stk-x", [ip_network("10.5.0.0/24"), ip_network("fd00:1::/64")], False)
    assert any(r.startswith("add rule inet stackup postrouting ip6 saddr fd00:1::/64") for r in rules)
    assert not any("masquerade" in r for r in nft.network_rules("stk-x", [ip_network("fd00:1::/64")], True))


@pytest.mark.parametrize("opts, match", [
    ({"type": "none", "device": "/srv"}, "needs o: bind"),
    ({"type": "nfs", "o": "addr=10.0.0.1"}, "needs a device"),
    ({"type": "none", "o": "bind", "device": "srv"}, "absolute path"),
    ({"size": "10G"}, "not known"),
    ({"o": "bind"}, "needs a type"),
])
def test_bad_local_driver_options(opts, match):
    with pytest.raises(UserError, match=match):
        volumemounts.check_options("v", opts)


def test_local_driver_options_become_a_mount_command():
    opts = volumemounts.check_options("v", {"type": "tmpfs", "o": "size=4m,mode=0750"})
    assert volumemounts.mount_command(opts, Path("/r/v/_data")) == \
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0750", "--", "tmpfs", "/r/v/_data"]
    nfs = volumemounts.check_options("v", {"type": "nfs", "o": "addr=10.0.0.1,nfsvers=4", "device": ":/x"})
    assert volumemounts.mount_command(nfs, Path("/d"))[-2:] == [":/x", "/d"]
