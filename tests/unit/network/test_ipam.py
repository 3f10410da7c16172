from ipaddress import ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackup.engine.network import ipam
from stackup.errors import ConflictError, UserError


def test_pick_subnet_skips_taken_and_overlapping_routes():
    pools = [ip_network("10.89.0.0/16")]
    taken = [ip_network("10.89.0.0/24"), ip_network("10.89.1.128/25"), ip_network("0.0.0.0/0")]
    assert ipam.pick_subnet(taken, pools) == ip_network("10.89.2.0/24")


def test_pick_subnet_skips_a_wider_route():
    pools = [ip_network("10.89.0.0/16"), ip_network("10.90.0.0/16")]
    assert ipam.pick_subnet([ip_network("10.89.0.0/16")], pools) == ip_network("10.90.0.0/24")


def test_pools_exhausted_is_a_conflict():
    with pytest.raises(ConflictError):
        ipam.pick_subnet([ip_network("10.0.0.0/8")], [ip_network("10.89.0.0/23")])


def test_user_subnet_gateway_range():
    plan = ipam.plan({"subnet": "10.5.0.0/24", "gateway": "10.5.0.254", "ip_range": "10.5.0.128/25"}, [])
    assert plan.gateway == ip_address("10.5.0.254")
    assert ipam.allocate(plan, []) == ip_address("10.5.0.129")


def test_user_subnet_overlapping_a_route_is_refused():
    with pytest.raises(ConflictError, match="overlaps"):
        ipam.plan({"subnet": "192.0.2.0/25"}, [ip_network("192.0.2.0/24")])


def test_user_subnet_may_sit_under_a_wider_route_but_not_on_an_interface():
    vpn, lan = ip_network("10.0.0.0/8"), ip_network("10.1.0.0/24")
    plan = ipam.plan({"subnet": "10.5.0.0/24"}, [vpn, lan], conflicts=[lan])
    assert str(plan.subnet) == "10.5.0.0/24"
    with pytest.raises(ConflictError, match="overlaps 10.1.0.0/24"):
        ipam.plan({"subnet": "10.1.0.0/25"}, [vpn, lan], conflicts=[lan])
    # the default pools avoid the wider route as well
    assert ipam.pick_subnet([vpn, lan], [ip_network("10.0.0.0/7")]) == ip_network("11.0.0.0/24")


@pytest.mark.parametrize("config,match", [
    ({"subnet": "10.5.0.0/24", "gateway": "10.6.0.1"}, "not a host address"),
    ({"subnet": "10.5.0.0/24", "ip_range": "10.6.0.0/25"}, "not inside"),
    ({"subnet": "banana"}, "not an IP network"),
    ({"gateway": "10.5.0.1"}, "need a subnet"),
    ({"subnet": "10.5.0.0/24", "colour": "red"}, "unknown key"),
    ({"subnet": "fd00::/64", "gateway": "10.5.0.1"}, "not a host address"),
    ({"subnet": "fd00::/64", "ip_range": "10.5.0.0/25"}, "not inside"),
])
def test_bad_ipam_config(config, match):
    with pytest.raises(UserError, match=match):
        ipam.plan(config, [])


def test_static_address_honoured_and_duplicates_refused():
    plan = ipam.plan({"subnet": "10.5.0.0/24"}, [])
    assert ipam.allocate(plan, [], "10.5.0.77") == ip_address("10.5.0.77")
    with pytest.raises(ConflictError, match="already in use"):
        ipam.allocate(plan, [ip_address("10.5.0.77")], "10.5.0.77")
    with pytest.raises(ConflictError):
        ipam.allocate(plan, [], "10.5.0.1")  # the gateway
    with pytest.raises(UserError, match="not inside"):
        ipam.allocate(plan, [], "10.6.0.2")


def test_aux_addresses_are_never_handed_out():
    plan = ipam.plan({"subnet": "10.5.0.0/29", "aux_addresses": {"router": "10.5.0.2"}}, [])
    got = []
    for _ in range(4):
        got.append(ipam.allocate(plan, got))
    assert ip_address("10.5.0.2") not in got and ip_address("10.5.0.1") not in got
    with pytest.raises(ConflictError, match="no free address"):
        ipam.allocate(plan, got)


def test_plan_round_trips_through_json():
    plan = ipam.plan({"subnet": "10.5.0.0/24", "ip_range": "10.5.0.0/26", "aux_addresses": {"a": "10.5.0.9"}}, [])
    assert ipam.Subnet.from_json(plan.to_json()) == plan


@given(st.lists(st.integers(min_value=0, max_value=255), max_size=40))
def test_chosen_subnets_never_overlap_what_is_taken(thirds):
    pools = [ip_network("10.89.0.0/16")]
    taken = [ip_network(f"10.89.{t}.0/24") for t in thirds]
    if len(set(thirds)) == 256:
        return
    chosen = ipam.pick_subnet(taken, pools)
    assert not any(chosen.overlaps(t) for t in taken)
    assert chosen.subnet_of(pools[0])


@given(st.integers(min_value=1, max_value=30))
def test_allocations_are_distinct(n):
    plan = ipam.plan({"subnet": "10.5.0.0/27"}, [])
    used = []
    for _ in range(min(n, 29)):
        used.append(ipam.allocate(plan, used))
    assert len(set(used)) == len(used)
    assert all(a in plan.subnet and a not in ipam.reserved(plan) for a in used)


def test_last_free_is_the_top_of_the_range_and_skips_what_is_taken():
    plan = ipam.plan({"subnet": "192.0.2.0/24"}, [])
    assert ipam.last_free(plan) == ip_address("192.0.2.254")
    assert ipam.last_free(plan, [ip_address("192.0.2.254")]) == ip_address("192.0.2.253")
    ranged = ipam.plan({"subnet": "192.0.2.0/24", "ip_range": "192.0.2.64/26"}, [])
    assert ipam.last_free(ranged) == ip_address("192.0.2.127")
    six = ipam.plan({"subnet": "fd00:1::/64"}, [])
    assert ipam.last_free(six) in ip_network("fd00:1::/64") and ipam.last_free(six) != six.gateway
