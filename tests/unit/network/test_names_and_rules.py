from ipaddress import ip_network

from stackup.engine.network import names, nft


def test_interface_names_fit_and_are_recognisable():
    nid, cid = names.new_id(), names.new_id()
    bridge, veth = names.bridge_name(nid), names.veth_name(cid, nid)
    assert len(bridge) <= 15 and bridge.startswith("stk-")
    assert len(veth) <= 15 and veth.startswith("stkv")
    assert names.veth_name(cid, nid) == veth
    assert names.veth_name(cid, names.new_id()) != veth


def test_rules_of_a_normal_network_masquerade_and_carry_its_comment():
    rules = nft.network_rules("stk-abc", [ip_network("10.89.3.0/24")], internal=False)
    assert all(r.endswith('comment "stackup:stk-abc"') for r in rules)
    assert any("masquerade" in r and "ip saddr 10.89.3.0/24" in r for r in rules)
    assert any(" isolate " in r and 'oifname "stk-*" drop' in r for r in rules)


def test_rules_of_an_internal_network_drop_everything_crossing_its_bridge():
    rules = nft.network_rules("stk-abc", [ip_network("10.89.3.0/24")], internal=True)
    assert not any("masquerade" in r or " accept " in r for r in rules)
    assert any("iifname stk-abc oifname != stk-abc drop" in r for r in rules)
    assert any("oifname stk-abc iifname != stk-abc drop" in r for r in rules)
