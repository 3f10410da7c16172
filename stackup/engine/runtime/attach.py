"""Attaching a terminal (or any stdin) to a container's PID 1 through its shim.

The shim listens on `attach.sock` in the container's directory for tty and `-i`
containers. A client that connects receives the input end over SCM_RIGHTS: the pty
master (tty: input and window size go straight to it, output comes back on the
connection) or, once, PID 1's stdin pipe (`-i` without a tty: output is the log).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from stackup.engine.runtime import fdpass
from stackup.engine.runtime.terminal import relay, write_all
from stackup.errors import StackupError

if TYPE_CHECKING:
    from stackup.engine.runtime.container import Runtime
    from stackup.engine.runtime.logs import LogEntry

# The shim of a tty container started while this file is in its directory holds the
# pty's output until a client attaches (or 10 s pass), so none is lost before then.
HOLD_OUTPUT = "attach-wait"


def hold_output(runtime: Runtime, cid: str) -> None:
    """Before starting a tty container that a terminal will attach to: its first
    output waits for the terminal (see the shim's `wait_exit`)."""
    (runtime.cdir(cid) / HOLD_OUTPUT).touch()


def attach_terminal(runtime: Runtime, cid: str, tty: bool, interactive: bool, *, from_start: bool) -> None:
    """Our terminal on a started container until it stops: its pty (tty containers),
    or its output from the log with our stdin copied to its stdin (`interactive`).
    The container was made with `tty` and `stdin_open=interactive` (and, for a tty,
    `hold_output` before it started, so that no output is lost before we are here)."""

    def alive() -> bool:  # it may still write output or read input
        return runtime.get(cid).status.is_up_or_starting()

    if tty or interactive:
        conn, fd = connect(runtime.cdir(cid), alive=alive)
        if conn >= 0 and tty:
            relay_tty(conn, fd, 0, 1, interactive)
            return
        if conn >= 0:
            os.close(conn)
        if interactive and fd >= 0:  # (conn < 0: it exited before we attached)
            pump_stdin(0, fd)
    follow_output(runtime.log_path(cid), alive, from_start=from_start)


def follow_output(log: Path, alive: Callable[[], bool], *, from_start: bool) -> None:
    """The container's log on our stdout and stderr, as it grows, until it stops."""
    from stackup.engine.runtime import logs

    def emit(entry: LogEntry) -> None:
        out = sys.stderr if entry.get("stream") == "stderr" else sys.stdout
        out.write(entry.get("log", ""))
        out.flush()

    logs.follow(log, alive, emit, from_start=from_start, poll=0.02)


def connect(cdir: Path, timeout: float = 5.0, alive: Callable[[], bool] | None = None) -> tuple[int, int]:
    """(connection, input fd or -1) once the shim listens (it may still be starting).

    With `alive` (is the container still running?), (-1, -1) as soon as it is not: a
    command that exits before we connect (`run -i IMAGE true`) takes the shim's socket
    with it, and there is nothing left to attach to. A connection the shim closes
    unanswered gives (connection, -1), as its end of stream does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = fdpass.connect(str(cdir / "attach.sock"))
            break
        except OSError:
            if alive is not None and not alive():
                return -1, -1
            if time.monotonic() > deadline:
                raise StackupError(f"cannot attach: {cdir / 'attach.sock'} does not answer") from None
            time.sleep(0.005)
    try:
        _tag, fd = fdpass.recv_fd(conn)
    except OSError:  # reset: the shim stopped listening before it accepted us
        fd = -1
    return conn, fd


def relay_tty(conn: int, master: int, stdin: int, stdout: int, interactive: bool) -> None:
    """The user's terminal on the container's pty until the shim closes the connection
    (which carries the pty's output)."""
    try:
        relay(conn, master, stdin, stdout, interactive)
    finally:
        os.close(conn)
        os.close(master)


def pump_stdin(stdin: int, pipe: int) -> threading.Thread:
    """Copy our stdin to PID 1's (a daemon thread); its end closes PID 1's stdin."""

    def run() -> None:
        try:
            while data := os.read(stdin, 65536):
                write_all(pipe, data)
        except OSError:
            pass
        finally:
            os.close(pipe)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
