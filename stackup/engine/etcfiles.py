"""The text of a container's /etc/hosts and /etc/resolv.conf, for the runtime and the network engine.

The runtime writes them when it creates a container; for a container on a stackup
network the network engine writes them again at each start, knowing its address and
its network's DNS server (its first network's gateway), which knows the other
containers and forwards the rest (to the container's `dns` servers when it has
some). With network_mode host, none or container:, the container gets the host's
resolvers, or its own `dns` servers. The network's DNS server reads the host's
resolvers here too (`host_resolv`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

from stackup.errors import UserError

HOST_RESOLV_CONF = "/etc/resolv.conf"
# Docker's fallback when the host's only resolvers are on its loopback, which a
# container in a network namespace of its own cannot reach
FALLBACK_SERVERS = ("8.8.8.8", "8.8.4.4")

HOST_GATEWAY = "host-gateway"

HOSTS_HEADER = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def parse_extra_hosts(extra_hosts: Mapping[str, str | list[str]] | Iterable[str] | None,
                      host_gateway: str | None = None) -> list[tuple[str, str]]:
    """(name, address) pairs from compose `extra_hosts` (list of "name:ip"/"name=ip" or a map)."""
    pairs: list[tuple[str, str]] = []
    if not extra_hosts:
        return pairs
    if isinstance(extra_hosts, Mapping):
        items = []
        for name, value in extra_hosts.items():
            for v in value if isinstance(value, list) else [value]:
                items.append((str(name), str(v)))
    else:
        items = []
        for entry in extra_hosts:
            entry = str(entry)
            sep = "=" if "=" in entry else ":"
            name, found, value = entry.partition(sep)
            if not found or not name or not value:
                raise UserError(f"extra_hosts: {entry!r} is not name:address or name=address")
            items.append((name, value))
    for name, value in items:
        value = value.strip().strip("[]")
        if value == HOST_GATEWAY:
            if not host_gateway:
                raise UserError(f"extra_hosts: {name}: host-gateway needs the container on a network")
            value = host_gateway
        try:
            ip_address(value)
        except ValueError:
            raise UserError(f"extra_hosts: {name}: {value!r} is not an IP address") from None
        pairs.append((name.strip(), value))
    return pairs


def hosts_file(hostname: str | None, addresses: Iterable[str] = (), extra_hosts=None,
               domainname: str | None = None, host_gateway: str | None = None,
               aliases: Iterable[str] = ()) -> str:
    """/etc/hosts: localhost, the container's own names on its addresses, then extra_hosts."""
    text = HOSTS_HEADER
    own = []
    if hostname:
        own = [f"{hostname}.{domainname}", hostname] if domainname else [hostname]
    own += [a for a in aliases if a not in own]
    addresses = list(addresses)
    if own:
        for addr in addresses or ["127.0.1.1"]:
            text += f"{addr}\t{' '.join(own)}\n"
    for name, addr in parse_extra_hosts(extra_hosts, host_gateway):
        text += f"{addr}\t{name}\n"
    return text


@dataclass(frozen=True)
class HostResolv:
    """What the host's resolv.conf says."""

    servers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


def host_resolv(path: str = HOST_RESOLV_CONF) -> HostResolv:
    """The host's nameservers, search domains (`domain` counts as one) and options."""
    found = HostResolv()
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            found.servers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            found.search[:] = parts[1:]
        elif parts[0] == "options":
            found.options.extend(parts[1:])
    return found


def resolv_conf(network_dns: str | None = None, dns: Iterable[str] = (), dns_search: Iterable[str] = (),
                dns_opt: Iterable[str] = (), host_resolv_path: str = HOST_RESOLV_CONF,
                host_network: bool = True) -> str:
    """/etc/resolv.conf for a container.

    `network_dns`: the DNS server of the container's first network (its gateway),
    None off a stackup network. The container's `dns` servers are then the network
    DNS server's upstreams (pass them in the Attachment), as Docker does. Off a
    network, a container outside the host's network namespace (`host_network`
    False) cannot reach the host's loopback resolvers: Docker's fallback replaces them.
    """
    dns, dns_search, dns_opt = list(dns), list(dns_search), list(dns_opt)
    for server in dns:
        try:
            ip_address(server)
        except ValueError:
            raise UserError(f"dns: {server!r} is not an IP address") from None
    host = host_resolv(host_resolv_path)
    if network_dns:
        servers = [network_dns]
    elif dns:
        servers = dns
    else:
        servers = host.servers if host_network else _reachable(host.servers)
    search = dns_search or host.search
    options = dns_opt or ([] if network_dns else host.options)
    lines = [f"nameserver {s}" for s in servers]
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def _reachable(servers: list[str]) -> list[str]:
    """The servers off the host's loopback, or Docker's fallback when none is."""
    kept = [s for s in servers if not _is_loopback(s)]
    return kept or list(FALLBACK_SERVERS)


def _is_loopback(server: str) -> bool:
    try:
        return ip_address(server.split("%")[0]).is_loopback
    except ValueError:
        return False
