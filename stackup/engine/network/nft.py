"""Masquerade and isolation rules in nftables, via the `nft` tool.

All of stackup's rules live in one table, `inet stackup` (both IP families: the
isolation rules match interfaces, so they hold for IPv6 as for IPv4), shared by every
stackup root on the machine. Each rule carries the comment `stackup:<bridge>`, so the
rules of one network are found and deleted as a unit without touching another
root's; the table goes away with its last rule. Changes happen under a host-wide
lock, and each change is one `nft -f` transaction.

Two base chains on the forward hook: `isolate` (earlier priority) only drops
(traffic between different stackup bridges, and anything crossing an internal
network's bridge); `forward` accepts a network's outbound and reply traffic.
A drop in either base chain is final, an accept only ends that chain.

IPv6 subnets are masqueraded (NAT66) as Docker 27+ does by default for its bridges:
stackup's default IPv6 pool is a ULA range nothing outside the host routes back to, so
routed mode would need the user's routers to know the subnet. Earlier stackup versions
kept the rules in `ip stackup`; a network's removal takes its rules from there too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network

from stackup.engine.network import store
from stackup.engine.network.names import BRIDGE_PREFIX
from stackup.errors import StackupError

TABLE = "stackup"
FAMILY = "inet"
LEGACY_FAMILY = "ip"  # where versions before dual stack kept the rules

SKELETON = f"""add table {FAMILY} {TABLE}
add chain {FAMILY} {TABLE} isolate {{ type filter hook forward priority -1 ; policy accept ; }}
add chain {FAMILY} {TABLE} forward {{ type filter hook forward priority 0 ; policy accept ; }}
add chain {FAMILY} {TABLE} postrouting {{ type nat hook postrouting priority 100 ; policy accept ; }}
"""


def comment(bridge: str) -> str:
    return f"stackup:{bridge}"


def network_rules(bridge: str, subnets: Sequence[IPv4Network | IPv6Network], internal: bool) -> list[str]:
    """The `nft` commands that add one network's rules (pure; tested without root)."""
    c = f'comment "{comment(bridge)}"'
    t = f"{FAMILY} {TABLE}"
    others = f'"{BRIDGE_PREFIX}*"'
    rules = [
        f"add rule {t} isolate iifname {bridge} oifname != {bridge} oifname {others} drop {c}",
    ]
    if internal:
        rules += [
            f"add rule {t} isolate iifname {bridge} oifname != {bridge} drop {c}",
            f"add rule {t} isolate oifname {bridge} iifname != {bridge} drop {c}",
        ]
    else:
        rules += [
            f"add rule {t} forward iifname {bridge} accept {c}",
            f"add rule {t} forward oifname {bridge} ct state established,related accept {c}",
        ]
        rules += [f"add rule {t} postrouting {'ip' if s.version == 4 else 'ip6'} saddr {s} "
                  f"oifname != {bridge} masquerade {c}" for s in subnets]
    return rules


def _nft(script: str | None = None, *args: str) -> str:
    tool = shutil.which("nft") or "/usr/sbin/nft"
    cmd = [tool, *args] + (["-f", "-"] if script is not None else [])
    proc = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackupError(f"nft failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return proc.stdout


def listing(*scope: str) -> list[dict] | None:
    """`nft -j list SCOPE...` as nft's JSON objects, or None when nft refuses (no such table)."""
    tool = shutil.which("nft") or "/usr/sbin/nft"
    proc = subprocess.run([tool, "-j", "list", *scope], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    items: list[dict] = json.loads(proc.stdout).get("nftables", [])
    return items


def _rules(family: str = FAMILY) -> list[dict] | None:
    """The rules of stackup's table (as nft's JSON objects), or None when there is no table."""
    items = listing("table", family, TABLE)
    return None if items is None else [i["rule"] for i in items if "rule" in i]


def add_network(bridge: str, subnets: Sequence[IPv4Network | IPv6Network], internal: bool,
                fresh: bool = False) -> None:
    """Add the network's rules, replacing any it has; `fresh`: the bridge's name is new, so
    it can have none (one `nft` run instead of a listing and a run)."""
    with store.host_lock():
        if not fresh:
            _delete_rules(bridge, drop_empty_table=False)
        _nft(SKELETON + "\n".join(network_rules(bridge, subnets, internal)) + "\n")


def remove_network(bridge: str) -> None:
    with store.host_lock():
        _delete_rules(bridge, drop_empty_table=True)
        _delete_rules(bridge, drop_empty_table=True, family=LEGACY_FAMILY)


def _delete_rules(bridge: str, drop_empty_table: bool, family: str = FAMILY) -> None:
    rules = _rules(family)
    if rules is None:
        return
    mine = [r for r in rules if r.get("comment") == comment(bridge)]
    script = "".join(f"delete rule {family} {TABLE} {r['chain']} handle {r['handle']}\n" for r in mine)
    if drop_empty_table and len(mine) == len(rules):
        script += f"delete table {family} {TABLE}\n"
    if script:
        _nft(script)


def all_rules() -> list[dict]:
    """Every rule of stackup's table (of every network)."""
    return _rules() or []


def rules_of(bridge: str) -> list[dict]:
    """Rules carrying this bridge's comment (for checks and tests)."""
    return [r for r in all_rules() if r.get("comment") == comment(bridge)]


def enable_forwarding(ipv6: bool = False) -> None:
    """Turn the host's forwarding on (IPv6's only for a network with IPv6, as Docker does:
    with it on, the host's own interfaces stop taking router advertisements unless their
    accept_ra is 2)."""
    paths = ["/proc/sys/net/ipv4/ip_forward"] + (["/proc/sys/net/ipv6/conf/all/forwarding"] if ipv6 else [])
    for path in paths:
        with open(path, "r+") as f:
            if f.read().strip() != "1":
                f.seek(0)
                f.write("1")
