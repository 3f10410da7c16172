"""IP address management: subnets for networks and addresses for endpoints.

Pure functions over `ipaddress` objects; the callers hold the locks and keep the
allocations in the engine's state. The default pools are carved into /24s (IPv4) and
/64s (IPv6) and a subnet is only chosen when it overlaps no route the host already has
(which also covers other stackup roots' bridges on this machine) and no stackup network.

A network has one or more subnets (compose's `ipam.config` entries), of either family;
an endpoint gets one address of each family the network has, from the first subnet of
that family with room (or the one holding the address asked for), as Docker does.
The IPv6 pool is a ULA range (fd00::/8, RFC 4193) that stackup owns, never routed
beyond the host: containers reach out through NAT66 (see nft.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from stackup.errors import ConflictError, UserError

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

DEFAULT_POOLS = ("10.89.0.0/16", "10.90.0.0/16", "10.91.0.0/16")
DEFAULT_PREFIX = 24
# a ULA /48 with a random global ID (RFC 4193 3.2), stackup's own; carved into /64s
DEFAULT_POOLS6 = ("fd5c:2d6a:9f00::/48",)
DEFAULT_PREFIX6 = 64
CONFIG_KEYS = {"subnet", "gateway", "ip_range", "aux_addresses"}


@dataclass
class Subnet:
    """One address plan of a network: the subnet, its gateway and where endpoints get addresses."""

    subnet: Network
    gateway: Address
    ip_range: Network | None = None
    aux: dict[str, Address] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.subnet.version

    def to_json(self) -> dict:
        return {"subnet": str(self.subnet), "gateway": str(self.gateway),
                "ip_range": str(self.ip_range) if self.ip_range else None,
                "aux_addresses": {k: str(v) for k, v in self.aux.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Subnet:
        return cls(ip_network(data["subnet"]), ip_address(data["gateway"]),
                   ip_network(data["ip_range"]) if data.get("ip_range") else None,
                   {k: ip_address(v) for k, v in (data.get("aux_addresses") or {}).items()})


def subnets_of(net: dict) -> list[Subnet]:
    """Every subnet of a network record (records from before dual stack have `ipam` only)."""
    return [Subnet.from_json(s) for s in (net.get("subnets") or [net["ipam"]])]


def default_pools(version: int = 4) -> list[Network]:
    """The pools to carve from: `$STACKUP_NETWORK_POOLS` (`..._POOLS6` for IPv6; comma
    separated) or the defaults."""
    variable, defaults = ("STACKUP_NETWORK_POOLS", DEFAULT_POOLS) if version == 4 else \
        ("STACKUP_NETWORK_POOLS6", DEFAULT_POOLS6)
    text = os.environ.get(variable)
    names = [p.strip() for p in text.split(",") if p.strip()] if text else defaults
    pools = [ip_network(p) for p in names]
    if any(p.version != version for p in pools):
        raise UserError(f"${variable}: every pool must be an IPv{version} network")
    return pools


def pick_subnet(taken: Iterable[Network], pools: Iterable[Network] | None = None,
                prefix: int | None = None, version: int = 4) -> Network:
    """The first /`prefix` of the pools that overlaps none of `taken`."""
    taken = [t for t in taken if t.prefixlen > 0 and t.version == version]  # a default route overlaps everything
    prefix = prefix or (DEFAULT_PREFIX if version == 4 else DEFAULT_PREFIX6)
    for pool in pools if pools is not None else default_pools(version):
        for candidate in pool.subnets(new_prefix=max(prefix, pool.prefixlen)):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    raise ConflictError(f"no free IPv{version} subnet left in the address pools "
                        "(remove unused networks or give ipam.config subnet)")


def plan_all(configs: list[dict], taken: Iterable[Network], *, ipv4: bool = True, ipv6: bool = False,
             pools: Iterable[Network] | None = None, pools6: Iterable[Network] | None = None,
             conflicts: Iterable[Network] | None = None) -> list[Subnet]:
    """A network's subnets: one per `ipam.config` entry, plus one from the default pool
    for each enabled family no entry gives (Docker's rule); IPv4 ones first."""
    taken = list(taken)
    conflicts = taken if conflicts is None else list(conflicts)
    plans: list[Subnet] = []
    for i, config in enumerate(configs):
        where = f"ipam.config[{i}]" if len(configs) > 1 else "ipam.config"
        config = dict(config or {})
        if not config.get("subnet"):
            if len(configs) > 1:
                raise UserError(f"{where}: subnet is required when there are several entries")
            plans.append(plan(config, taken + [p.subnet for p in plans], pools,
                              conflicts + [p.subnet for p in plans], where=where))
            continue
        plans.append(plan(config, taken, conflicts=conflicts + [p.subnet for p in plans], where=where))
    for p in plans:
        if p.version == 6 and not ipv6:
            raise UserError(f"ipam.config: subnet {p.subnet} is IPv6, but enable_ipv6 is not set")
        if p.version == 4 and not ipv4:
            raise UserError(f"ipam.config: subnet {p.subnet} is IPv4, but enable_ipv4 is false")
    have = {p.version for p in plans}
    if ipv4 and 4 not in have:
        plans.append(Subnet(*_first_host(pick_subnet(taken + [p.subnet for p in plans], pools, version=4))))
    if ipv6 and 6 not in have:
        plans.append(Subnet(*_first_host(pick_subnet(taken + [p.subnet for p in plans], pools6, version=6))))
    if not plans:
        raise UserError("a network needs IPv4 or IPv6: enable_ipv4 is false and enable_ipv6 is not set")
    return sorted(plans, key=lambda p: p.version)


def _first_host(subnet: Network) -> tuple[Network, Address]:
    return subnet, subnet[1]


def plan(config: dict | None, taken: Iterable[Network],
         pools: Iterable[Network] | None = None,
         conflicts: Iterable[Network] | None = None, where: str = "ipam.config") -> Subnet:
    """A network's Subnet from a compose `ipam.config` entry (or the default IPv4 pools).

    A subnet from the pools avoids everything `taken` (all the host's routes); a
    subnet the user gives only has to avoid `conflicts` (default: `taken`), e.g. the
    host's own interfaces and other networks, as Docker lets it sit under a wider
    route (a VPN's 10.0.0.0/8, say).
    """
    config = dict(config or {})
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    taken = list(taken)
    if config.get("subnet"):
        subnet = _network(config["subnet"], f"{where}.subnet")
        for t in (taken if conflicts is None else list(conflicts)):
            if t.prefixlen > 0 and t.version == subnet.version and subnet.overlaps(t):
                raise ConflictError(f"subnet {subnet} overlaps {t}, which is already in use")
        if subnet.num_addresses < 4:
            raise UserError(f"{where}.subnet: {subnet} is too small (at most /30, /126)")
    else:
        if config.get("gateway") or config.get("ip_range"):
            raise UserError(f"{where}: gateway and ip_range need a subnet")
        subnet = pick_subnet(taken, pools)
    gateway = _address(config["gateway"], f"{where}.gateway") if config.get("gateway") else subnet[1]
    if gateway not in subnet or gateway == subnet.network_address or \
            (subnet.version == 4 and gateway == subnet.broadcast_address):
        raise UserError(f"{where}.gateway: {gateway} is not a host address of {subnet}")
    ip_range = _network(config["ip_range"], f"{where}.ip_range") if config.get("ip_range") else None
    if ip_range is not None and (ip_range.version != subnet.version
                                 or not ip_range.subnet_of(subnet)):  # type: ignore[arg-type]
        raise UserError(f"{where}.ip_range: {ip_range} is not inside {subnet}")
    aux = {}
    for name, addr in (config.get("aux_addresses") or {}).items():
        aux[str(name)] = _address(addr, f"{where}.aux_addresses.{name}")
        if aux[str(name)] not in subnet:
            raise UserError(f"{where}.aux_addresses.{name}: {addr} is not inside {subnet}")
    return Subnet(subnet, gateway, ip_range, aux)


def reserved(plan_: Subnet) -> set[Address]:
    s = plan_.subnet
    return {s.network_address, s.broadcast_address, plan_.gateway, *plan_.aux.values()}


def allocate(plan_: Subnet, used: Iterable[Address], requested: str | None = None) -> Address:
    """An address for an endpoint: `requested` if free, else the lowest free one in the range."""
    used = set(used) | reserved(plan_)
    if requested:
        what = "ipv4_address" if plan_.version == 4 else "ipv6_address"
        addr = _address(requested, what)
        if addr not in plan_.subnet:
            raise UserError(f"{what} {addr} is not inside the network's subnet {plan_.subnet}")
        if addr in used:
            raise ConflictError(f"address {addr} is already in use on {plan_.subnet}")
        return addr
    for addr in (plan_.ip_range or plan_.subnet).hosts():
        if addr not in used:
            return addr
    raise ConflictError(f"no free address left in {plan_.ip_range or plan_.subnet}")


def last_free(plan_: Subnet, used: Iterable[Address] = ()) -> Address:
    """The highest free address of the range (or subnet): one the network keeps for
    itself, far from where endpoints' addresses start."""
    used = set(used) | reserved(plan_)
    within = plan_.ip_range or plan_.subnet
    last = within.broadcast_address if within.version == 4 else within[-1]
    for offset in range(min(within.num_addresses, 1 << 16)):
        addr = last - offset
        if addr not in used and addr in within:
            return addr
    raise ConflictError(f"no free address left in {within}")


def allocate_family(plans: list[Subnet], version: int, used: Iterable[Address],
                    requested: str | None = None) -> tuple[Subnet, Address] | None:
    """An address of one family over the network's subnets: the subnet that holds
    `requested`, else the first with a free address; None when the network has no
    subnet of that family (an address asked for then is an error)."""
    mine = [p for p in plans if p.version == version]
    what = "ipv4_address" if version == 4 else "ipv6_address"
    if not mine:
        if requested:
            raise UserError(f"{what} {requested}: the network has no IPv{version} subnet"
                            + (" (set enable_ipv6)" if version == 6 else ""))
        return None
    used = list(used)
    if requested:
        addr = _address(requested, what)
        holder = next((p for p in mine if addr in p.subnet), None)
        if holder is None:
            raise UserError(f"{what} {addr} is not inside the network's subnets "
                            f"{', '.join(str(p.subnet) for p in mine)}")
        return holder, allocate(holder, used, requested)
    last: ConflictError | None = None
    for p in mine:
        try:
            return p, allocate(p, used)
        except ConflictError as exc:
            last = exc
    assert last is not None
    raise last


def _network(text: str, what: str) -> Network:
    try:
        return ip_network(str(text), strict=False)
    except ValueError:
        raise UserError(f"{what}: {text!r} is not an IP network (like 10.5.0.0/24 or fd00:5::/64)") from None


def _address(text: str, what: str) -> Address:
    try:
        return ip_address(str(text))
    except ValueError:
        raise UserError(f"{what}: {text!r} is not an IP address") from None
