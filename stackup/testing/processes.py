"""Whether a process has ended, for tests and test helpers."""

from __future__ import annotations

import time


def state(pid: int) -> str | None:
    """The process's state letter from /proc (R, S, Z...), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def gone(pid: int) -> bool:
    """No such process, or only its exit status left for its parent (a zombie)."""
    return state(pid) in (None, "Z")


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `gone(pid)`; whether it is."""
    deadline = time.monotonic() + timeout
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone(pid)
