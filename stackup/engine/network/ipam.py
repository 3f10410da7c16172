"""IP address management: subnets for networks and addresses for endpoints.

Pure functions over `ipaddress` objects; the callers hold the locks and keep the
allocations in the engine's state. The default pools are carved into /24s and a
subnet is only chosen when it overlaps no route the host already has (which also
covers other stackup roots' bridges on this machine) and no stackup network.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network

from stackup.errors import ConflictError, UserError

DEFAULT_POOLS = ("10.89.0.0/16", "10.90.0.0/16", "10.91.0.0/16")
DEFAULT_PREFIX = 24


@dataclass
class Subnet:
    """A network's address plan: the subnet, its gateway and where endpoints get addresses."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None
    aux: dict[str, IPv4Address] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"subnet": str(self.subnet), "gateway": str(self.gateway),
                "ip_range": str(self.ip_range) if self.ip_range else None,
                "aux_addresses": {k: str(v) for k, v in self.aux.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Subnet:
        return cls(IPv4Network(data["subnet"]), IPv4Address(data["gateway"]),
                   IPv4Network(data["ip_range"]) if data.get("ip_range") else None,
                   {k: IPv4Address(v) for k, v in (data.get("aux_addresses") or {}).items()})


def default_pools() -> list[IPv4Network]:
    """The pools to carve from: `$STACKUP_NETWORK_POOLS` (comma separated) or the defaults."""
    text = os.environ.get("STACKUP_NETWORK_POOLS")
    names = [p.strip() for p in text.split(",") if p.strip()] if text else DEFAULT_POOLS
    return [IPv4Network(p) for p in names]


def pick_subnet(taken: Iterable[IPv4Network], pools: Iterable[IPv4Network] | None = None,
                prefix: int = DEFAULT_PREFIX) -> IPv4Network:
    """The first /`prefix` of the pools that overlaps none of `taken`."""
    taken = [t for t in taken if t.prefixlen > 0]  # a default route overlaps everything
    for pool in pools if pools is not None else default_pools():
        for candidate in pool.subnets(new_prefix=max(prefix, pool.prefixlen)):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    raise ConflictError("no free subnet left in the address pools "
                        "(remove unused networks or give ipam.config subnet)")


def plan(config: dict | None, taken: Iterable[IPv4Network],
         pools: Iterable[IPv4Network] | None = None,
         conflicts: Iterable[IPv4Network] | None = None) -> Subnet:
    """A network's Subnet from a compose `ipam.config` entry (or the default pools).

    A subnet from the pools avoids everything `taken` (all the host's routes); a
    subnet the user gives only has to avoid `conflicts` (default: `taken`), e.g. the
    host's own interfaces and other networks, as Docker lets it sit under a wider
    route (a VPN's 10.0.0.0/8, say).
    """
    config = dict(config or {})
    unknown = set(config) - {"subnet", "gateway", "ip_range", "aux_addresses"}
    if unknown:
        raise UserError(f"ipam.config: unknown key(s) {', '.join(sorted(unknown))}")
    taken = list(taken)
    if config.get("subnet"):
        subnet = _network(config["subnet"], "subnet")
        for t in (taken if conflicts is None else list(conflicts)):
            if t.prefixlen > 0 and subnet.overlaps(t):
                raise ConflictError(f"subnet {subnet} overlaps {t}, which is already in use")
        if subnet.num_addresses < 4:
            raise UserError(f"ipam.config.subnet: {subnet} is too small (at most /30)")
    else:
        if config.get("gateway") or config.get("ip_range"):
            raise UserError("ipam.config: gateway and ip_range need a subnet")
        subnet = pick_subnet(taken, pools)
    gateway = _address(config["gateway"], "gateway") if config.get("gateway") else subnet[1]
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise UserError(f"ipam.config.gateway: {gateway} is not a host address of {subnet}")
    ip_range = _network(config["ip_range"], "ip_range") if config.get("ip_range") else None
    if ip_range is not None and not ip_range.subnet_of(subnet):
        raise UserError(f"ipam.config.ip_range: {ip_range} is not inside {subnet}")
    aux = {}
    for name, addr in (config.get("aux_addresses") or {}).items():
        aux[str(name)] = _address(addr, f"aux_addresses.{name}")
        if aux[str(name)] not in subnet:
            raise UserError(f"ipam.config.aux_addresses.{name}: {addr} is not inside {subnet}")
    return Subnet(subnet, gateway, ip_range, aux)


def reserved(plan_: Subnet) -> set[IPv4Address]:
    s = plan_.subnet
    return {s.network_address, s.broadcast_address, plan_.gateway, *plan_.aux.values()}


def allocate(plan_: Subnet, used: Iterable[IPv4Address], requested: str | None = None) -> IPv4Address:
    """An address for an endpoint: `requested` if free, else the lowest free one in the range."""
    used = set(used) | reserved(plan_)
    if requested:
        addr = _address(requested, "ipv4_address")
        if addr not in plan_.subnet:
            raise UserError(f"ipv4_address {addr} is not inside the network's subnet {plan_.subnet}")
        if addr in used:
            raise ConflictError(f"address {addr} is already in use on {plan_.subnet}")
        return addr
    for addr in (plan_.ip_range or plan_.subnet).hosts():
        if addr not in used:
            return addr
    raise ConflictError(f"no free address left in {plan_.ip_range or plan_.subnet}")


def _network(text: str, what: str) -> IPv4Network:
    try:
        net = ip_network(str(text), strict=False)
    except ValueError:
        raise UserError(f"ipam.config.{what}: {text!r} is not an IPv4 network (like 10.5.0.0/24)") from None
    if net.version != 4:
        raise UserError(f"ipam.config.{what}: only IPv4 is supported, got {text}")
    return net


def _address(text: str, what: str) -> IPv4Address:
    try:
        addr = ip_address(str(text))
    except ValueError:
        raise UserError(f"{what}: {text!r} is not an IPv4 address") from None
    if addr.version != 4:
        raise UserError(f"{what}: only IPv4 is supported, got {text}")
    return addr
