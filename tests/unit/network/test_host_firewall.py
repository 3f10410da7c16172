"""stackup's iptables chain and the check for other firewalls, as pure functions (no root)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from stackup.engine.network import forwardcheck, iptables
from stackup.errors import StackupError

SUBNET = ip_network("10.89.3.0/24")

# `iptables -S` on a host where dockerd runs and stackup has one network (stk-aaa).
DOCKER_AND_ONE_NETWORK = """-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-USER
-N STACKUP-FORWARD
-A FORWARD -j DOCKER-USER
-A FORWARD -j STACKUP-FORWARD
-A FORWARD -o docker0 -j DOCKER
-A DOCKER-USER -j RETURN
-A STACKUP-FORWARD -i stk-aaa -o stk-aaa -m comment --comment "stackup:stk-aaa web_default" -j ACCEPT
-A STACKUP-FORWARD -i stk-aaa ! -o stk-aaa -m comment --comment "stackup:stk-aaa web_default" -j ACCEPT
-A STACKUP-FORWARD -o stk-aaa -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "stackup:stk-aaa web_default" -j ACCEPT
"""

EMPTY = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"


def test_a_network_gets_accept_rules_within_out_and_back_named_by_its_comment():
    rules = iptables.network_rules("stk-abc", "web_default", internal=False)
    assert rules == [
        '-i stk-abc -o stk-abc -m comment --comment "stackup:stk-abc web_default" -j ACCEPT',
        '-i stk-abc ! -o stk-abc -m comment --comment "stackup:stk-abc web_default" -j ACCEPT',
        '-o stk-abc -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment '
        '"stackup:stk-abc web_default" -j ACCEPT',
    ]


def test_an_internal_network_is_accepted_only_within_its_bridge():
    rules = iptables.network_rules("stk-abc", "back", internal=True)
    assert rules == ['-i stk-abc -o stk-abc -m comment --comment "stackup:stk-abc back" -j ACCEPT']


def test_the_first_network_makes_the_chain_and_the_jump_at_the_top_of_forward():
    script = iptables.add_script(iptables.Table.parse(EMPTY), "stk-abc", "web", internal=True)
    assert script == ("*filter\n:STACKUP-FORWARD - [0:0]\n-I FORWARD 1 -j STACKUP-FORWARD\n"
                      '-A STACKUP-FORWARD -i stk-abc -o stk-abc -m comment --comment "stackup:stk-abc web"'
                      " -j ACCEPT\nCOMMIT\n")


def test_a_second_network_never_declares_the_chain_again():
    """iptables-restore --noflush empties a user chain that it is told to declare."""
    table = iptables.Table.parse(DOCKER_AND_ONE_NETWORK)
    assert table.forward_policy == "DROP" and table.chain_exists and table.jump_exists
    script = iptables.add_script(table, "stk-bbb", "db", internal=False)
    assert ":STACKUP-FORWARD" not in script and "-I FORWARD" not in script
    assert script.count("-A STACKUP-FORWARD -i stk-bbb") == 2 and "-D " not in script


def test_adding_again_replaces_the_networks_rules_and_drops_those_of_vanished_bridges():
    table = iptables.Table.parse(DOCKER_AND_ONE_NETWORK.replace("stk-aaa", "stk-old")
                                 + DOCKER_AND_ONE_NETWORK.splitlines(keepends=True)[-1])
    script = iptables.add_script(table, "stk-aaa", "web_default", internal=False,
                                 live_bridges={"stk-aaa", "eth0"})
    deleted = [line for line in script.splitlines() if line.startswith("-D ")]
    assert len(deleted) == 4  # stk-old's three, and stk-aaa's one
    assert deleted[0].startswith("-D STACKUP-FORWARD -i stk-old -o stk-old")
    assert sum(line.startswith("-A STACKUP-FORWARD") for line in script.splitlines()) == 3


def test_removing_a_network_keeps_the_others_and_the_last_one_takes_the_chain_along():
    table = iptables.Table.parse(DOCKER_AND_ONE_NETWORK)
    assert iptables.remove_script(table, "stk-zzz") == ""
    last = iptables.remove_script(table, "stk-aaa").splitlines()
    assert last[-3:] == ["-D FORWARD -j STACKUP-FORWARD", "-X STACKUP-FORWARD", "COMMIT"]
    assert sum(line.startswith("-D STACKUP-FORWARD -i stk-aaa") for line in last) == 2
    two = iptables.Table.parse(DOCKER_AND_ONE_NETWORK + DOCKER_AND_ONE_NETWORK.splitlines(keepends=True)[-1]
                               .replace("stk-aaa", "stk-bbb"))
    assert "-X" not in iptables.remove_script(two, "stk-aaa")


def test_intact_wants_every_rule_and_the_jump():
    table = iptables.Table.parse(DOCKER_AND_ONE_NETWORK)
    assert iptables.intact(table, "stk-aaa", internal=False)
    assert not iptables.intact(table, "stk-bbb", internal=False)
    unjumped = iptables.Table.parse(DOCKER_AND_ONE_NETWORK.replace("-A FORWARD -j STACKUP-FORWARD\n", ""))
    assert not iptables.intact(unjumped, "stk-aaa", internal=False)
    assert iptables.intact(None, "stk-aaa", internal=False)  # no iptables: nothing to miss


# --- other firewalls, read from `nft -j list ruleset` --------------------------------

def chain(family, table, name, policy="accept", hook="forward"):
    return {"chain": {"family": family, "table": table, "name": name, "type": "filter",
                      "hook": hook, "prio": 0, "policy": policy}}


def rule(family, table, name, *expr):
    return {"rule": {"family": family, "table": table, "chain": name, "expr": list(expr)}}


def iif(value):
    return {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": value}}


ACCEPT, DROP = {"accept": None}, {"drop": None}
ESTABLISHED = {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}


def test_a_hand_written_drop_policy_blocks_and_the_message_says_what_to_add():
    ruleset = [chain("inet", "fw", "forward", policy="drop"), rule("inet", "fw", "forward", ESTABLISHED, ACCEPT)]
    found = forwardcheck.blocker(ruleset, "stk-abc", SUBNET)
    assert found is not None and str(found[0]) == "inet fw forward" and found[1] == "policy drop"
    assert forwardcheck.advice(found[0], "stk-abc") == ('nft insert rule inet fw forward iifname "stk-*" accept; '
                                                        'nft insert rule inet fw forward oifname "stk-*" accept')


@pytest.mark.parametrize("opening", [iif("stk-*"), iif("stk-abc"), iif({"set": ["eth0", "stk-*"]}),
                                     {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                                "right": {"prefix": {"addr": "10.89.0.0", "len": 16}}}}])
def test_a_drop_policy_with_a_rule_for_stackups_bridges_or_subnet_lets_it_through(opening):
    ruleset = [chain("inet", "fw", "forward", policy="drop"), rule("inet", "fw", "forward", opening, ACCEPT)]
    assert forwardcheck.blocker(ruleset, "stk-abc", SUBNET) is None


def test_a_final_reject_as_firewalld_writes_it_blocks_and_firewalld_gets_its_own_advice():
    ruleset = [chain("inet", "firewalld", "filter_FORWARD"),
               rule("inet", "firewalld", "filter_FORWARD", ESTABLISHED, ACCEPT),
               rule("inet", "firewalld", "filter_FORWARD", iif("eth0"), ACCEPT),
               rule("inet", "firewalld", "filter_FORWARD", {"counter": {"packets": 0, "bytes": 0}},
                    {"reject": {"type": "icmpx", "expr": "admin-prohibited"}})]
    found = forwardcheck.blocker(ruleset, "stk-abc", SUBNET)
    assert found is not None and found[1] == "its last rule rejects everything"
    assert forwardcheck.advice(found[0], "stk-abc").startswith("firewall-cmd --zone=trusted --add-interface=stk-abc")


def test_iptables_forward_drop_is_no_blocker_once_it_jumps_to_stackups_chain():
    dropping = [chain("ip", "filter", "FORWARD", policy="drop")]
    assert forwardcheck.blocker(dropping, "stk-abc", SUBNET) is not None
    jumped = dropping + [rule("ip", "filter", "FORWARD", {"counter": None}, {"jump": {"target": "STACKUP-FORWARD"}})]
    assert forwardcheck.blocker(jumped, "stk-abc", SUBNET) is None


def test_stackups_own_table_other_hooks_and_accepting_chains_are_no_blockers():
    ruleset = [chain("ip", "stackup", "isolate"), rule("ip", "stackup", "isolate", iif("stk-abc"), DROP),
               chain("inet", "fw", "input", policy="drop", hook="input"),
               chain("inet", "fw", "forward"), rule("inet", "fw", "forward", iif("eth9"), DROP)]
    assert forwardcheck.blocker(ruleset, "stk-abc", SUBNET) is None


def test_a_bridge_family_drop_policy_blocks_unless_it_accepts_the_bridge():
    ruleset = [chain("bridge", "br", "forward", policy="drop")]
    found = forwardcheck.blocker(ruleset, "stk-abc", SUBNET)
    assert found is not None and forwardcheck.advice(found[0], "stk-abc") == \
        'nft insert rule bridge br forward ibrname "stk-*" accept'
    opened = ruleset + [rule("bridge", "br", "forward", {"match": {"op": "==", "left": {"meta": {"key": "ibrname"}},
                                                                      "right": "stk-*"}}, ACCEPT)]
    assert forwardcheck.blocker(opened, "stk-abc", SUBNET) is None


def test_check_raises_one_line_naming_the_network_and_the_chain(monkeypatch):
    ruleset = [chain("inet", "fw", "forward", policy="drop")]
    monkeypatch.setattr(forwardcheck, "_ruleset", lambda: ruleset)
    with pytest.raises(StackupError) as err:
        forwardcheck.check("web_default", "stk-abc", SUBNET)
    assert err.value.lines() == [
        'network web_default: the nftables chain "inet fw forward" drops forwarded traffic (policy drop) '
        "and accepts none of this network's; let stackup's bridges through it, e.g. "
        'nft insert rule inet fw forward iifname "stk-*" accept; nft insert rule inet fw forward oifname "stk-*" accept']


def test_dockers_rules_without_stackups_jump_block():
    """iptables-nft's rules as `nft -j` prints them (xt expressions): Docker's accepts are
    for its own bridges, so without stackup's jump its DROP policy blocks."""
    ruleset = [{"metainfo": {"version": "1.0.6"}}, chain("ip", "filter", "FORWARD", policy="drop"),
               rule("ip", "filter", "FORWARD", {"counter": {"packets": 0, "bytes": 0}},
                    {"xt": {"type": "match", "name": "conntrack"}}, ACCEPT),
               rule("ip", "filter", "FORWARD", {"jump": {"target": "DOCKER-USER"}})]
    assert forwardcheck.blocker(ruleset, "stk-abc", SUBNET)[1] == "policy drop"


def test_without_iptables_nothing_is_run(monkeypatch, tmp_path):
    """A host with no iptables has no FORWARD chain to get past: nothing is done."""
    from stackup.engine.network import store

    monkeypatch.setattr(store, "HOST_LOCK", tmp_path / "host.lock")
    monkeypatch.setattr(iptables.shutil, "which", lambda *a, **k: None)
    ran = []
    monkeypatch.setattr(iptables.subprocess, "run", lambda *a, **k: ran.append(a))
    iptables.add_network("stk-abc", "web", internal=False)
    iptables.remove_network("stk-abc")
    assert iptables.read() is None and iptables.rules_of("stk-abc") == [] and ran == []


def test_an_iptables_without_kernel_tables_counts_as_absent(monkeypatch):
    """`iptables -S` fails where the kernel has no iptables tables: no FORWARD to get past."""
    import subprocess

    monkeypatch.setattr(iptables, "tools", lambda version=4: ("/usr/sbin/iptables", "/usr/sbin/iptables-restore"))
    monkeypatch.setattr(iptables.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a[0], 3, "", "iptables v1.8.9 (nf_tables): can't initialize iptables table `filter'"))
    assert iptables.read() is None
