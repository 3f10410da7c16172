"""A network's part of the host firewall, as one unit: stackup's nftables table (NAT and
isolation, `nft.py`), its chain in iptables' `filter` table (getting past another
engine's `FORWARD` policy, `iptables.py`), and the check that no other firewall drops
the network's traffic (`forwardcheck.py`). Networks open, close and repair it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from stackup.engine.network import forwardcheck, iptables, nft


def open_network(name: str, bridge: str, subnets: Sequence[IPv4Network | IPv6Network], internal: bool,
                 fresh: bool = False, check: bool = True) -> None:
    """Add the network's rules (replacing any it has; `fresh`: it has none yet), then
    (`check`) refuse, in one line, when another firewall would still drop its traffic.
    The repair does not check: it runs under `ps` and `down` too, which must not fail."""
    ipv6 = any(s.version == 6 for s in subnets)
    nft.enable_forwarding(ipv6)
    nft.add_network(bridge, subnets, internal, fresh=fresh)
    for version in versions(subnets):
        iptables.add_network(bridge, name, internal, version)
    if check:
        for subnet in subnets:
            forwardcheck.check(name, bridge, subnet)


def versions(subnets: Sequence[IPv4Network | IPv6Network]) -> list[int]:
    """The IP versions whose iptables FORWARD chain the network's traffic crosses."""
    return sorted({s.version for s in subnets})


def close_network(bridge: str) -> None:
    """Remove the network's rules wherever they are (both families); each part is tried."""
    try:
        nft.remove_network(bridge)
    finally:
        try:
            iptables.remove_network(bridge, 4)
        finally:
            iptables.remove_network(bridge, 6)


@dataclass(frozen=True)
class Snapshot:
    """The rules of every network, read once (one `nft` and one `iptables` run), so that
    checking all networks costs no more than checking one."""

    nft_rules: tuple[dict, ...]
    table: iptables.Table | None
    table6: iptables.Table | None = None

    @classmethod
    def read(cls, ipv6: bool = True) -> Snapshot:
        return cls(tuple(nft.all_rules()), iptables.read(), iptables.read(6) if ipv6 else None)

    def intact(self, bridge: str, internal: bool, ipv6: bool = False) -> bool:
        """True when both the nftables and the iptables rules of the network are in place."""
        return (any(r.get("comment") == nft.comment(bridge) for r in self.nft_rules)
                and iptables.intact(self.table, bridge, internal)
                and (not ipv6 or iptables.intact(self.table6, bridge, internal)))


def leftovers(bridge: str) -> list[str]:
    """What of the network's rules is still in the kernel (for leak checks)."""
    found = []
    if nft.rules_of(bridge):
        found.append("nft rules")
    if iptables.rules_of(bridge):
        found.append("iptables rules")
    if iptables.rules_of(bridge, 6):
        found.append("ip6tables rules")
    return found
