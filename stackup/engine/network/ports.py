"""Published ports: compose's `ports:` syntax into PortBindings (pure).

The short syntax (`[host_ip:][host_port:]container_port[/tcp|udp]`, ranges on either
side, IPv6 host addresses in brackets) is read by `stackup.shortsyntax` into the long
syntax, a mapping (target, published, host_ip, protocol, mode), which is checked here
against what the engine can publish. A host range for one container port
(`8000-8001:80`) means "the first free one".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from ipaddress import ip_address

from stackup.errors import UnsupportedError, UserError
from stackup.shortsyntax import parse_ports as parse_short_ports

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""          # "" means every address (0.0.0.0)
    host_port: int = 0         # 0 means a free port chosen at publish time
    host_port_end: int = 0     # with host_port: try host_port..host_port_end, first free wins

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def bind_ip(self) -> str:
        return self.host_ip or "0.0.0.0"

    def __str__(self) -> str:
        ip = f"[{self.bind_ip}]" if ":" in self.bind_ip else self.bind_ip
        return f"{ip}:{self.host_port}->{self.container_port}/{self.protocol}"


def parse_ports(specs: Iterable[str | int | Mapping | PortBinding]) -> list[PortBinding]:
    out: list[PortBinding] = []
    for spec in specs:
        if isinstance(spec, PortBinding):
            out.append(spec)
        elif isinstance(spec, Mapping):
            out += _parse_long(spec)
        else:
            out += parse_short(str(spec))
    return out


def parse_short(text: str) -> list[PortBinding]:
    where = f"ports: {text!r}"
    return [binding for entry in parse_short_ports(text) for binding in _parse_long(entry, where)]


def _parse_long(spec: Mapping, where: str = "") -> list[PortBinding]:
    where = where or f"ports: {dict(spec)!r}"
    if "target" not in spec:
        raise UserError(f"{where}: target is required")
    if spec.get("mode", "ingress") not in ("ingress", "host"):
        raise UserError(f"{where}: mode must be ingress or host")
    proto = _protocol(str(spec.get("protocol") or "tcp"), where)
    host_ip = _host_ip(str(spec.get("host_ip") or ""), where)
    published = spec.get("published")
    return _bindings(where, str(spec["target"]), "" if published in (None, "") else str(published),
                     host_ip, proto)


def _bindings(where: str, container: str, host: str, host_ip: str, proto: str) -> list[PortBinding]:
    c_lo, c_hi = _range(container, where)
    if not host:
        return [PortBinding(p, proto, host_ip) for p in range(c_lo, c_hi + 1)]
    h_lo, h_hi = _range(host, where)
    if c_lo == c_hi and h_hi > h_lo:
        return [PortBinding(c_lo, proto, host_ip, h_lo, h_hi)]
    if h_hi - h_lo != c_hi - c_lo:
        raise UserError(f"{where}: host range {host} and container range {container} differ in size")
    return [PortBinding(c, proto, host_ip, h) for c, h in zip(range(c_lo, c_hi + 1), range(h_lo, h_hi + 1))]


def _range(text: str, where: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a port or a port range") from None
    if not (1 <= a <= b <= 65535):
        raise UserError(f"{where}: {text!r} is not a port range within 1-65535")
    return a, b


def _host_ip(text: str, where: str) -> str:
    text = text.strip("[]")
    if not text:
        return ""
    try:
        ip_address(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not an IP address") from None
    return text


def sctp_problem() -> str:
    """Why an sctp port cannot be published here: the kernel's SCTP is missing (the `sctp`
    module is neither built in nor loadable, as in many VMs and containers), or, where it
    is there, stackup's port proxy does not forward SCTP yet."""
    import socket

    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError as exc:
        return (f"needs the kernel's SCTP, which this host lacks ({exc.strerror}; "
                "`modprobe sctp` where the module exists)")
    return "is not forwarded by stackup's port proxy yet (tcp or udp)"


def _protocol(text: str, where: str) -> str:
    text = text.lower()
    if text == "sctp":
        raise UnsupportedError(f"{where}: protocol sctp {sctp_problem()}")
    if text not in PROTOCOLS:
        raise UserError(f"{where}: protocol {text!r} must be tcp or udp")
    return text
