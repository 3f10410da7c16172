"""Which sockets a process holds: how `up` tells a helper that still serves (its DNS
or port sockets bound, TCP ones listening) from one that is alive but lost them.

/proc/PID/fd links to `socket:[INODE]` for each socket PID holds. The bound sockets
with their local address and inode come from the kernel's sock_diag netlink interface
(what `ss` uses), asking only for listening TCP and unconnected UDP sockets: ~0.1 ms.
/proc/PID/net/{tcp,udp,tcp6,udp6} say the same, but reading one walks every
connection of the host (~1.3 ms each): that is the fallback for a helper in another
network namespace than the caller's.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

TCP_LISTEN = "0A"


def holds(pid: int, wanted: list[tuple[str, str, int]]) -> bool:
    """True when `pid` holds a socket bound to each (protocol, address, port) of `wanted`,
    each TCP one listening."""
    inodes = _socket_inodes(pid)
    if inodes is None:
        return False
    by_table: dict[str, set[str]] = {}
    for protocol, address, port in wanted:
        table, local = _local(protocol, address, port)
        by_table.setdefault(table, set()).add(local)
    same_netns = _netns(pid) == _netns("self")
    for table, locals_ in by_table.items():
        bound = _diag_bound(table, inodes) if same_netns else None
        if bound is None:  # another namespace, or a kernel without the diag module
            bound = _bound(pid, table, inodes)
        if not locals_ <= bound:
            return False
    return True


def _netns(pid: int | str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return ""


NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
TCPF_LISTEN, TCPF_CLOSE = 1 << 10, 1 << 7
_TABLES = {"tcp": (socket.AF_INET, socket.IPPROTO_TCP, TCPF_LISTEN),
           "tcp6": (socket.AF_INET6, socket.IPPROTO_TCP, TCPF_LISTEN),
           "udp": (socket.AF_INET, socket.IPPROTO_UDP, TCPF_CLOSE),
           "udp6": (socket.AF_INET6, socket.IPPROTO_UDP, TCPF_CLOSE)}


def _diag_bound(table: str, inodes: set[str]) -> set[str] | None:
    """Like `_bound`, from an inet_diag dump of the caller's network namespace; None
    when the kernel refuses the dump."""
    family, protocol, states = _TABLES[table]
    # struct inet_diag_req_v2: family, protocol, ext, pad, states, then a zero inet_diag_sockid
    request = struct.pack("=BBBBI48x", family, protocol, 0, 0, states)
    header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    found: set[str] = set()
    try:
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    except OSError:
        return None
    with nl:
        nl.sendall(header + request)
        while True:
            data = nl.recv(1 << 16)
            offset = 0
            while offset < len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    return None
                # struct inet_diag_msg: family, state, timer, retrans, sockid (sport, dport
                # big-endian, src, dst, if, cookie), expires, rqueue, wqueue, uid, inode
                sport, = struct.unpack_from("!H", data, offset + 20)
                src = data[offset + 24:offset + 24 + (16 if family == socket.AF_INET6 else 4)]
                inode, = struct.unpack_from("=I", data, offset + 16 + 68)
                if str(inode) in inodes:
                    ip = ipaddress.ip_address(src)
                    found.add(_local(table.rstrip("6"), str(ip), sport)[1])
                offset += (length + 3) & ~3


def _local(protocol: str, address: str, port: int) -> tuple[str, str]:
    """The table that lists such a socket and its local address as the kernel prints it:
    32-bit words in host (little-endian) order, then the port, in hex."""
    ip = ipaddress.ip_address(address)
    raw = ip.packed
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    table = protocol + ("6" if ip.version == 6 else "")
    return table, f"{words.hex().upper()}:{port:04X}"


def _socket_inodes(pid: int) -> set[str] | None:
    """The inodes of the sockets `pid` holds; None when it is gone."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    inodes = set()
    for name in names:
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _bound(pid: int, table: str, inodes: set[str]) -> set[str]:
    """The local addresses of the table's sockets among `inodes` (TCP: listening only)."""
    try:
        with open(f"/proc/{pid}/net/{table}") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return set()
    found = set()
    for line in lines:
        fields = line.split()
        if fields[9] in inodes and (not table.startswith("tcp") or fields[3] == TCP_LISTEN):
            found.add(fields[1])
    return found
