"""The text of a container's /etc/hosts and /etc/resolv.conf (the runtime writes the files).

On a stackup network the container asks the network's DNS server (its first
network's gateway), which knows the other containers and forwards the rest (to
the container's `dns` servers when it has some). With network_mode host or none,
the container gets the host's resolvers, or its own `dns` servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import ip_address
from pathlib import Path

from stackup.errors import UserError

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


def host_nameservers(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search, options) of the host's resolv.conf."""
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            servers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            search = parts[1:]
        elif parts[0] == "options":
            options += parts[1:]
    return servers, search, options


def resolv_conf(network_dns: str | None = None, dns: Iterable[str] = (), dns_search: Iterable[str] = (),
                dns_opt: Iterable[str] = (), host_resolv: str = "/etc/resolv.conf") -> str:
    """/etc/resolv.conf for a container.

    `network_dns`: the DNS server of the container's first network (its gateway),
    None for network_mode host/none. The container's `dns` servers are then the
    network DNS server's upstreams (pass them in the Attachment), as Docker does.
    """
    dns, dns_search, dns_opt = list(dns), list(dns_search), list(dns_opt)
    for server in dns:
        try:
            ip_address(server)
        except ValueError:
            raise UserError(f"dns: {server!r} is not an IP address") from None
    host_servers, host_search, host_options = host_nameservers(host_resolv)
    if network_dns:
        servers = [network_dns]
    else:
        servers = dns or host_servers
    search = dns_search or host_search
    options = dns_opt or ([] if network_dns else host_options)
    lines = [f"nameserver {s}" for s in servers]
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"
