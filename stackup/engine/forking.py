"""Forked helper processes tied to the one that starts them: a socket pair to talk over
(SOCK_SEQPACKET, so each send is one message), and death with the parent.

Used by the network's link worker and by a pull's layer processes. libc is loaded on
first use, not on import: commands that fork nothing do not pay for ctypes.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


@functools.cache
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def load() -> None:
    """Load libc now: a child forked while other threads run must not (a fork keeps the
    locks they held, the dynamic loader's among them)."""
    _libc()


def fork_child(run: Callable[[socket.socket], int],
               close_in_child: Iterable[socket.socket] = ()) -> tuple[int, socket.socket]:
    """Fork a child that runs `run(its end of a socket pair)` and exits with what it returns
    (1 if it raises). Returns the child's pid and this process's end. The child closes
    `close_in_child` first (this process's ends of its siblings' pairs), so that each end
    has one owner and a sibling's exit is seen."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            for sock in (parent_sock, *close_in_child):
                sock.close()
            code = run(child_sock)
        finally:
            os._exit(code)
    child_sock.close()
    return pid, parent_sock


def die_with_parent(parent: int, signum: int) -> bool:
    """In a forked child: get `signum` when `parent` dies. False if it is already gone."""
    _libc().prctl(PR_SET_PDEATHSIG, signum)
    return os.getppid() == parent


def set_name(name: bytes) -> None:
    """The process's name in `ps` (up to 15 bytes)."""
    _libc().prctl(PR_SET_NAME, name)
