"""Finding another firewall that drops a network's forwarded traffic where stackup cannot
open it: an nftables base chain on the forward hook (firewalld's, a hand-written one)
that drops what it does not accept and accepts nothing of this network.

stackup opens iptables' `FORWARD` itself (`iptables.py`) and owns its `stackup` table;
any other chain that drops would make containers time out with no word said, so
network creation stops instead, with one line that says which chain and what to add.
The check reads the ruleset once (`nft -j list ruleset`); it cannot see iptables-legacy
tables, which stackup's chain handles where the host's `iptables` is legacy.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network

from stackup.engine.network import iptables, nft
from stackup.engine.network.names import BRIDGE_PREFIX, VETH_PREFIX
from stackup.errors import StackupError

FAMILIES = ("ip", "inet", "bridge")
INTERFACE_KEYS = ("iifname", "oifname", "ibrname", "obrname")
PASSIVE = ("counter", "log", "limit")  # statements that do not make a rule conditional


@dataclass(frozen=True)
class Chain:
    family: str
    table: str
    name: str
    policy: str
    rules: tuple[tuple[dict, ...], ...]  # each rule's expressions

    def __str__(self) -> str:
        return f"{self.family} {self.table} {self.name}"


def forward_chains(ruleset: list[dict]) -> list[Chain]:
    """The base chains on the forward hook that could see a network's traffic (pure)."""
    rules: dict[tuple[str, str, str], list[tuple[dict, ...]]] = {}
    for item in ruleset:
        if "rule" in item:
            r = item["rule"]
            rules.setdefault((r["family"], r["table"], r["chain"]), []).append(tuple(r.get("expr", ())))
    chains = []
    for item in ruleset:
        c = item.get("chain")
        if not c or c.get("hook") != "forward" or c["family"] not in FAMILIES:
            continue
        if c["table"] == nft.TABLE and c["family"] in (nft.FAMILY, nft.LEGACY_FAMILY):
            continue
        key = (c["family"], c["table"], c["name"])
        chains.append(Chain(*key, c.get("policy", "accept"), tuple(rules.get(key, ()))))
    return chains


def why_it_drops(chain: Chain) -> str | None:
    """How the chain ends for traffic none of its rules accept, when that is a drop."""
    if chain.policy == "drop":
        return "policy drop"
    if chain.rules:
        last = [e for e in chain.rules[-1] if next(iter(e)) not in PASSIVE]
        if len(last) == 1 and next(iter(last[0])) in ("drop", "reject"):
            return f"its last rule {next(iter(last[0]))}s everything"
    return None


def lets_through(chain: Chain, bridge: str, subnet: IPv4Network | IPv6Network) -> bool:
    """True when a rule of the chain accepts this network's traffic (by its bridge, its
    veths or its subnet) or hands it to stackup's iptables chain."""
    for expr in chain.rules:
        verdicts = [e for e in expr if "accept" in e or "jump" in e or "goto" in e]
        if not verdicts:
            continue
        target = (verdicts[-1].get("jump") or verdicts[-1].get("goto") or {}).get("target")
        if target == iptables.CHAIN:
            return True
        if "accept" in verdicts[-1] and any(_names_network(e, bridge, subnet) for e in expr):
            return True
    return False


def _names_network(expr: dict, bridge: str, subnet: IPv4Network | IPv6Network) -> bool:
    match = expr.get("match")
    if not match or match.get("op") not in ("==", "in"):
        return False
    left, right = match.get("left", {}), match.get("right")
    values = right.get("set", []) if isinstance(right, dict) and "set" in right else [right]
    if left.get("meta", {}).get("key") in INTERFACE_KEYS:
        examples = (bridge, VETH_PREFIX + "0" * 11)
        return any(isinstance(v, str) and any(fnmatch.fnmatchcase(x, v) for x in examples)
                   for v in values)
    if left.get("payload", {}).get("field") in ("saddr", "daddr"):
        return any(_prefix_holds(v, subnet) for v in values)
    return False


def _prefix_holds(value: object, subnet: IPv4Network | IPv6Network) -> bool:
    if isinstance(value, dict) and "prefix" in value:
        value = f"{value['prefix']['addr']}/{value['prefix']['len']}"
    try:
        return subnet.subnet_of(ip_network(str(value), strict=False))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def blocker(ruleset: list[dict], bridge: str, subnet: IPv4Network | IPv6Network) -> tuple[Chain, str] | None:
    """The first chain that would drop this network's forwarded traffic, and why (pure)."""
    for chain in forward_chains(ruleset):
        why = why_it_drops(chain)
        if why and not lets_through(chain, bridge, subnet):
            return chain, why
    return None


def advice(chain: Chain, bridge: str) -> str:
    """What the user can add so that the chain lets stackup's networks through."""
    add = (f'nft insert rule {chain} iifname "{BRIDGE_PREFIX}*" accept; '
           f'nft insert rule {chain} oifname "{BRIDGE_PREFIX}*" accept')
    if chain.family == "bridge":
        add = f'nft insert rule {chain} ibrname "{BRIDGE_PREFIX}*" accept'
    if chain.table == "firewalld":
        return f"firewall-cmd --zone=trusted --add-interface={bridge}, or {add}"
    return add


def check(name: str, bridge: str, subnet: IPv4Network | IPv6Network) -> None:
    """Raise a one-line error when another firewall drops this network's forwarded traffic."""
    found = blocker(_ruleset(), bridge, subnet)
    if found:
        chain, why = found
        raise StackupError(f'network {name}: the nftables chain "{chain}" drops forwarded traffic '
                           f"({why}) and accepts none of this network's; let stackup's bridges "
                           f"through it, e.g. {advice(chain, bridge)}")


def _ruleset() -> list[dict]:
    # nothing to read is nothing found: creating the rules would have failed first
    return nft.listing("ruleset") or []
