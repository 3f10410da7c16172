"""The user's terminal on a started container, shared by `container run/start/attach`
and compose's `run`: the container's pty (tty containers), or its output from the log
with our stdin copied to its stdin (`interactive`)."""

from __future__ import annotations

import os
import sys
from typing import Any


def attach(rt: Any, cid: str, tty: bool, interactive: bool, *, from_start: bool) -> None:
    """Until the container stops. The caller made the container with `tty` and
    `stdin_open=interactive` (and, for a tty, an `attach-wait` file before starting it,
    so that no output is lost before we are here)."""
    from stackup.engine.runtime import attach as engine_attach
    from stackup.engine.runtime.containerstate import Status

    def alive() -> bool:
        """It may still write output or read input."""
        return Status(rt.get(cid)["status"]).is_up_or_starting()

    if tty or interactive:
        conn, fd = engine_attach.connect(rt.cdir(cid), alive=alive)
        if conn >= 0 and tty:
            engine_attach.relay_tty(conn, fd, 0, 1, interactive)
            return
        if conn >= 0:
            os.close(conn)
        if interactive and fd >= 0:  # (conn < 0: it exited before we attached)
            engine_attach.pump_stdin(0, fd)
    follow_output(rt, cid, from_start=from_start, alive=alive)


def follow_output(rt: Any, cid: str, *, from_start: bool, alive: Any) -> None:
    """The container's log on our stdout and stderr, as it grows, until it stops."""
    from stackup.engine.runtime import logs

    def emit(entry: dict[str, Any]) -> None:
        out = sys.stderr if entry.get("stream") == "stderr" else sys.stdout
        out.write(entry.get("log", ""))
        out.flush()

    logs.follow(rt.cdir(cid) / "container.log", alive, emit, from_start=from_start, poll=0.02)
