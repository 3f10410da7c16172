"""A forked process that imports pyroute2 while the command does its other work.

Importing pyroute2 costs 0.15-0.25 s (its asyncio core and every message class), more
than everything else an `up` or `down` of a small stack does. A command that will touch
links calls `prefetch()` first thing: it forks a worker that imports `rtnl` on the other
core while this process parses its arguments and the stack file, then carries out the
link operations sent to it over a socket pair (pickled names and plain arguments in,
a result or an exception out).

Without a worker (prefetch not called, not root, or threads already running, where a
fork is unsafe) every call runs `rtnl` in this process, exactly as the worker would.
A command that started one calls `finish()` before it exits, which waits for the
deletions `call_soon` left running; the worker also ends when this process dies
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import threading
from typing import Any

from stackup.engine import forking

MAX_MESSAGE = 1 << 20
CALL, SOON, SETTLE = "call", "soon", "settle"  # the kinds of request


class _Worker:
    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        self.lock = threading.Lock()  # one request at a time on the socket

    def call(self, kind: str, name: str = "", args: tuple = ()) -> Any:
        with self.lock:
            self.sock.send(pickle.dumps((kind, name, args)))
            if kind == SOON:
                return None
            reply = self.sock.recv(MAX_MESSAGE)
        if not reply:
            raise OSError(f"the link worker (pid {self.pid}) ended unexpectedly")
        ok, value = pickle.loads(reply)
        if ok:
            return value
        raise value


_worker: _Worker | None = None


def prefetch() -> bool:
    """Start the worker (once per process) if that is safe and useful; whether it runs."""
    global _worker
    if _worker is not None:
        return True
    if os.environ.get("STACKUP_LINK_WORKER") == "0":  # to compare, in benches
        return False
    if os.geteuid() != 0 or threading.active_count() != 1:
        return False
    parent = os.getpid()
    pid, sock = forking.fork_child(lambda child_sock: _serve(child_sock, parent))
    _worker = _Worker(pid, sock)
    return True


def call(name: str, *args: Any) -> Any:
    """`rtnl.<name>(*args)`, in the worker when there is one."""
    if _worker is not None:
        return _worker.call(CALL, name, args)
    from stackup.engine.network import rtnl

    return getattr(rtnl, name)(*args)


def call_soon(name: str, *args: Any) -> None:
    """`rtnl.<name>(*args)` without waiting for it, when there is a worker (else now).

    `args[0]` names the link: it is done before a later call naming that link starts,
    and before `finish()` returns, so the kernel's slow part of deleting a link (an RCU
    grace period, 10-40 ms) overlaps the command's other work, other links' deletions
    included. Its failure is reported by `finish()`.
    """
    if _worker is not None:
        _worker.call(SOON, name, args)
    else:
        call(name, *args)


def finish() -> list[str]:
    """Wait for what `call_soon` started and end the worker; the failures, as text."""
    global _worker
    if _worker is None:
        return []
    worker, _worker = _worker, None
    try:
        return worker.call(SETTLE)
    except OSError as exc:
        return [str(exc)]
    finally:
        worker.sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker.pid, 0)


def _serve(sock: socket.socket, parent: int) -> int:  # pragma: no cover - runs in the worker
    """The worker's life: detach from the terminal's signals and output, load, answer.
    Its exit code (the parent sees the closed socket either way)."""
    if not forking.die_with_parent(parent, signal.SIGKILL):
        return 0
    forking.set_name(b"stackup-links")  # told apart from the command in `ps`
    # Ctrl-C is for the command, which may still need links to stop the stack.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # a pipe on stdout must close when the command exits
        os.dup2(null, fd)
    os.close(null)
    from stackup.engine.network import rtnl

    background: dict[str, threading.Thread] = {}  # link name -> its call_soon work
    failures: list[str] = []

    def in_background(name: str, args: tuple) -> None:
        try:
            getattr(rtnl, name)(*args)
        except Exception as exc:  # noqa: BLE001 - reported when the command settles
            failures.append(f"{name} {' '.join(map(str, args))}: {exc}")

    while True:
        request = sock.recv(MAX_MESSAGE)
        if not request:
            return 0
        kind, name, args = pickle.loads(request)
        # In order for each link: a later call naming a link waits for the work on it
        # (a restarted container's veth has its old name); other links' work overlaps.
        names = [a for a in args if isinstance(a, str)] if kind != SETTLE else list(background)
        for link in names:
            if link in background:
                background.pop(link).join()
        if kind == SOON:
            background[args[0]] = threading.Thread(target=in_background, args=(name, args))
            background[args[0]].start()
            continue
        if kind == SETTLE:
            reply: tuple[bool, object] = (True, list(failures))
            failures.clear()
        else:
            try:
                reply = (True, getattr(rtnl, name)(*args))
            except Exception as exc:  # noqa: BLE001 - raised again in the caller
                reply = (False, _portable(exc))
        try:
            data = pickle.dumps(reply)
        except Exception:  # noqa: BLE001 - an exception that cannot travel is described
            data = pickle.dumps((False, OSError(f"{name}: {reply[1]!r}")))
        sock.send(data)


def _portable(exc: Exception) -> Exception:
    """pyroute2's NetlinkError as an OSError: unpickling it would import pyroute2 here."""
    if type(exc).__module__.startswith("pyroute2"):
        code = getattr(exc, "code", 0)
        return OSError(code, os.strerror(code) if code else str(exc))
    return exc
