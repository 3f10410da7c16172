"""What the per-network DNS server answers: container names from the engine's network
files (read again whenever one changes, so later joiners resolve), everything else
forwarded to the container's own `dns` servers or the host's resolvers (never for
internal networks, which have no way out). Standard library, dnslib and the pure
records module only.
"""

from __future__ import annotations

import os
import socket
import threading
from ipaddress import ip_address, ip_network
from pathlib import Path

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord, PTR

from stackup.engine.network import records

TTL = 5
FORWARD_TIMEOUT = 3.0


class Records:
    """The network files of one root, re-read when their mtime or size changes."""

    def __init__(self, root: Path, network_id: str):
        self.dir = root / "networks"
        self.network_id = network_id
        self.cache: dict[str, tuple[tuple[int, int, int], dict]] = {}
        self.lock = threading.Lock()

    def networks(self) -> list[dict]:
        import json

        out = []
        with self.lock:
            seen = set()
            try:
                entries = list(os.scandir(self.dir))
            except FileNotFoundError:
                return []
            for entry in entries:
                if not entry.name.endswith(".json") or entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
                seen.add(entry.name)
                cached = self.cache.get(entry.name)
                if cached is None or cached[0] != key:
                    try:
                        data = json.loads(Path(entry.path).read_bytes())
                    except (OSError, ValueError):
                        continue
                    self.cache[entry.name] = cached = (key, data)
                out.append(cached[1])
            for gone in set(self.cache) - seen:
                del self.cache[gone]
        return out

    def this_network(self, networks: list[dict]) -> dict | None:
        return next((n for n in networks if n["id"] == self.network_id), None)


class Resolver:
    def __init__(self, recs: Records, upstreams: list[str], search: list[str] | None = None):
        self.records = recs
        self.upstreams = upstreams
        self.search = [d.lower().strip(".") for d in search or [] if d.strip(".")]

    def local(self, networks: list[dict], net: dict, source_ip: str, qname: str) -> list[str]:
        """Addresses of a container name, also when the resolver appended a search domain."""
        ips = records.lookup_any(networks, net["id"], source_ip, qname)
        if ips:
            return ips
        name = qname.lower().rstrip(".")
        for domain in self.search + records.search_of(networks, net["id"], source_ip):
            if name.endswith("." + domain):
                ips = records.lookup_any(networks, net["id"], source_ip, name[: -len(domain) - 1])
                if ips:
                    return ips
        return []

    def resolve(self, data: bytes, source_ip: str) -> tuple[bytes | None, list[str]]:
        """(answer, []) for what is answered here; (fallback answer, upstreams) to forward."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - garbage on the wire gets no answer
            return None, []
        networks = self.records.networks()
        net = self.records.this_network(networks)
        if net is None or not request.questions:
            return _error(request, RCODE.SERVFAIL), []
        if not _inside(source_ip, net):
            return _error(request, RCODE.REFUSED), []  # other networks' containers get nothing
        q = request.questions[0]
        qname = str(q.qname)
        reply = request.reply()
        reply.header.ra = 1
        ptr_ip = records.ptr_to_ip(qname) if q.qtype == QTYPE.PTR else None
        if ptr_ip:
            name = records.reverse(networks, net["id"], source_ip, ptr_ip)
            if name:
                reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(name + "."), ttl=TTL))
                return reply.pack(), []
        else:
            ips = self.local(networks, net, source_ip, qname)
            if ips:
                for ip in ips:
                    if ":" not in ip and q.qtype in (QTYPE.A, QTYPE.ANY):
                        reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
                    elif ":" in ip and q.qtype in (QTYPE.AAAA, QTYPE.ANY):
                        reply.add_answer(RR(q.qname, QTYPE.AAAA, rdata=AAAA(ip), ttl=TTL))
                return reply.pack(), []  # a known name: its other types are empty, not forwarded
        if net.get("internal"):
            return _error(request, RCODE.NXDOMAIN), []
        upstreams = records.upstreams_for(networks, net["id"], source_ip) or self.upstreams
        return _error(request, RCODE.SERVFAIL), upstreams

    def answer(self, data: bytes, source_ip: str) -> bytes | None:
        answer, upstreams = self.resolve(data, source_ip)
        if upstreams:
            return forward(data, upstreams) or answer
        return answer


def _inside(source_ip: str, net: dict) -> bool:
    try:
        source = ip_address(source_ip)
        return any(source in ip_network(s["subnet"]) for s in net.get("subnets") or [net["ipam"]])
    except (KeyError, TypeError, ValueError):
        return False


def _error(request: DNSRecord, rcode: int) -> bytes:
    reply = request.reply()
    reply.header.ra = 1
    reply.header.rcode = rcode
    return reply.pack()


def forward(data: bytes, upstreams: list[str]) -> bytes | None:
    for upstream in upstreams:
        host, _, port = upstream.partition("#")
        try:
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                               socket.SOCK_DGRAM) as s:
                s.settimeout(FORWARD_TIMEOUT)
                s.sendto(data, (host, int(port or 53)))
                answer, _ = s.recvfrom(65535)
                if answer[:2] == data[:2]:
                    return answer
        except OSError:
            continue
    return None
