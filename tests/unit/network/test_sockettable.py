"""sockettable on this process's own sockets: bound and listening ones are found, by
the netlink dump and by the /proc tables alike, and nothing else is."""

from __future__ import annotations

import os
import socket

import pytest

from stackup.engine.network import sockettable


@pytest.fixture
def sockets():
    made = []

    def make(family: int, kind: int, address: str, listen: bool = False) -> int:
        s = socket.socket(family, kind)
        made.append(s)
        s.bind((address, 0))
        if listen:
            s.listen()
        return s.getsockname()[1]

    yield make
    for s in made:
        s.close()


def test_bound_udp_and_listening_tcp_sockets_are_held(sockets):
    tcp = sockets(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", listen=True)
    udp6 = sockets(socket.AF_INET6, socket.SOCK_DGRAM, "::")
    udp = sockets(socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1")
    assert sockettable.holds(os.getpid(), [("tcp", "127.0.0.1", tcp), ("udp", "::", udp6),
                                           ("udp", "127.0.0.1", udp)])


def test_a_tcp_socket_that_does_not_listen_or_another_address_is_not_held(sockets):
    bound_only = sockets(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1")
    assert not sockettable.holds(os.getpid(), [("tcp", "127.0.0.1", bound_only)])
    listening = sockets(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", listen=True)
    assert not sockettable.holds(os.getpid(), [("tcp", "0.0.0.0", listening)])
    assert not sockettable.holds(os.getpid(), [("udp", "127.0.0.1", listening)])


def test_a_socket_of_another_process_is_not_held(sockets):
    port = sockets(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", listen=True)
    assert not sockettable.holds(os.getppid(), [("tcp", "127.0.0.1", port)])
    assert not sockettable.holds(2 ** 22 + 1, [("tcp", "127.0.0.1", port)])  # no such pid


@pytest.mark.parametrize("table", ["tcp", "udp", "tcp6", "udp6"])
def test_the_netlink_dump_and_the_proc_tables_agree(sockets, table):
    family = socket.AF_INET6 if table.endswith("6") else socket.AF_INET
    kind = socket.SOCK_STREAM if table.startswith("tcp") else socket.SOCK_DGRAM
    sockets(family, kind, "::1" if family == socket.AF_INET6 else "127.0.0.1", listen=kind == socket.SOCK_STREAM)
    inodes = sockettable._socket_inodes(os.getpid())
    assert inodes is not None
    found = sockettable._bound(os.getpid(), table, inodes)
    assert found and sockettable._diag_bound(table, inodes) == found
