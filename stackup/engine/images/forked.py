"""A pull's layers in forked child processes, their progress relayed to the parent.

Fetching a layer costs as much CPU in Python (the HTTP client, tarfile, the steps
between hashing, inflating and writing) as in C. In threads, the Python parts of every
layer queue for the one GIL, and each system call hands it over (a futex wake and a
context switch each time: about a tenth of a threaded pull's CPU). In processes
the layers run side by side on every core: a tenth less wall time on the bench's two
cores (docs/images.md).

Each child gets a Progress that sends every call to the parent over a socket pair,
and sends back its job's result or exception, pickled. At most `parallel` children
run at once; after a failure no more start, the running ones finish (what they made is
handed over all the same, for the caller to clean up) and the first error is raised.
A child ignores Ctrl-C (the parent decides), unwinds on SIGTERM (its temporary files
are removed on the way), which the parent sends to the ones still running when it is
interrupted, and gets SIGTERM too when the parent dies (PR_SET_PDEATHSIG).

Jobs must only use modules already imported: a fork keeps the locks other threads
held at that moment, the import locks among them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import socket
from collections.abc import Callable, Sequence
from typing import Any

from stackup.engine import forking
from stackup.engine.images.errors import ImageError
from stackup.engine.images.progress import Progress

MAX_MESSAGE = 256 << 10
PROGRESS, RESULT, ERROR = "progress", "result", "error"

Job = Callable[[Progress], Any]


class _Relay(Progress):
    """A child's Progress: each call is carried out by the parent's."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def _send(self, method: str, *args: Any) -> None:
        self._sock.send(pickle.dumps((PROGRESS, (method, args))))

    def start(self, key: str, label: str, total: int | None) -> None:
        self._send("start", key, label, total)

    def advance(self, key: str, n: int) -> None:
        self._send("advance", key, n)

    def finish(self, key: str, status: str) -> None:
        self._send("finish", key, status)

    def message(self, text: str) -> None:
        self._send("message", text)


class _Child:
    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock


def run(jobs: Sequence[Job], parallel: int, progress: Progress, take: Callable[[Any], None]) -> None:
    """Run each job in a child process of its own, at most `parallel` at a time, and
    `take` each result here as it arrives (so the caller owns what a job made even when
    another fails); the first error is raised once the running children have ended."""
    waiting = list(jobs)
    running: dict[int, _Child] = {}
    error: BaseException | None = None
    selector = selectors.DefaultSelector()
    forking.load()  # here: a child must not load libraries (see the top)
    try:
        while running or (waiting and error is None):
            while waiting and error is None and len(running) < max(1, parallel):
                child = _start(waiting.pop(0), siblings=[c.sock for c in running.values()])
                running[child.pid] = child
                selector.register(child.sock, selectors.EVENT_READ, child)
            for key, _ in selector.select():
                child = key.data
                outcome = _receive(child, progress)
                if outcome is None:
                    continue
                selector.unregister(child.sock)
                del running[child.pid]
                _reap(child)
                kind, value = outcome
                if kind == RESULT:
                    take(value)
                elif error is None:
                    error = value
    finally:
        selector.close()
        for child in running.values():  # interrupted: the children unwind and are reaped
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
            _reap(child)
    if error is not None:
        raise error


def _receive(child: _Child, progress: Progress) -> tuple[str, Any] | None:
    """Carry out one message of `child`: None after a progress call, else its outcome."""
    data = child.sock.recv(MAX_MESSAGE)
    if not data:
        return ERROR, ImageError(f"a layer's worker process (pid {child.pid}) ended unexpectedly")
    kind, value = pickle.loads(data)
    if kind == PROGRESS:
        method, args = value
        getattr(progress, method)(*args)
        return None
    return kind, value


def _reap(child: _Child) -> None:
    # The socket goes first: a child still sending gets EPIPE instead of waiting for us.
    child.sock.close()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(child.pid, 0)


def _start(job: Job, siblings: list[socket.socket]) -> _Child:
    parent = os.getpid()
    pid, sock = forking.fork_child(lambda child_sock: _child(job, child_sock, parent), siblings)
    return _Child(pid, sock)


def _child(job: Job, sock: socket.socket, parent: int) -> int:  # pragma: no cover - in the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _unwind)
    if not forking.die_with_parent(parent, signal.SIGTERM):
        return 1
    try:
        outcome = (RESULT, job(_Relay(sock)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent
        outcome = (ERROR, exc)
    sock.send(_pickled(outcome))
    return 0


def _unwind(signum: int, frame: Any) -> None:  # pragma: no cover - in the child
    raise SystemExit(128 + signum)


def _pickled(outcome: tuple[str, Any]) -> bytes:
    """The outcome as a message; an exception that cannot cross (or is too long) as its text."""
    try:
        data = pickle.dumps(outcome)
        if len(data) <= MAX_MESSAGE:
            return data
    except Exception:  # noqa: BLE001 - whatever fails to pickle is sent as text
        pass
    kind, value = outcome
    text = f"{type(value).__name__}: {value}" if kind == ERROR else "its result cannot be sent"
    return pickle.dumps((ERROR, ImageError(f"a layer's worker process failed: {text[:2000]}")))
