"""Running a function inside another network namespace, in a thread of this process.

setns(2) and unshare(CLONE_NEWNET) change only the calling thread's namespace, so a
short-lived thread can work in a container's namespace (or make a new one) while the
process stays where it is. Sockets a thread opens belong to the namespace it was in,
whichever thread later uses them. Loads nothing heavy (no pyroute2).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(netns_path: Path | None, fn: Callable[[], T]) -> T:
    """Run `fn` in a thread that has entered the network namespace at `netns_path`
    (None: a new, empty namespace of its own)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            if netns_path is None:
                _check(_libc.unshare(CLONE_NEWNET), "cannot make a network namespace")
            else:
                fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _check(_libc.setns(fd, CLONE_NEWNET), f"cannot enter network namespace {netns_path}")
                finally:
                    os.close(fd)
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="stackup-netns")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    value: T = result["value"]
    return value


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
