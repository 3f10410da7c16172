"""Network namespaces pinned to a file, and the hook the network engine plugs into.

The runtime makes each container's network namespace before its PID 1 exists (as CNI
runtimes do) and pins it with a bind mount at `$STACKUP_ROOT/netns/<id>`. Registered
`NetworkWiring`s are then called with that path to wire it up (veth, addresses,
routes), and PID 1 joins the namespace with setns. Mode `none` gets a namespace with
only `lo` up; `host` gets none; `container:<ref>` joins another container's.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Protocol

from stackup.engine.runtime import syscalls as sc

class NetworkWiring(Protocol):
    """What the network engine provides: wire a container's namespace up, and undo it."""

    def connect(self, container_id: str, netns_path: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Connect the namespace at `netns_path`; the result is kept in the container's
        state under "network" (addresses, aliases...). `spec` holds the container's
        `networks`, `hostname`, `hosts_file` and `resolv_conf` paths."""
        ...

    def disconnect(self, container_id: str) -> None:
        """Release what connect made (called on stop and rm; must tolerate repeats)."""
        ...


_WIRINGS: list[NetworkWiring] = []


def register_wiring(wiring: NetworkWiring) -> None:
    """Add a wiring (once per kind: registering another of the same class is a no-op)."""
    if not any(type(a) is type(wiring) for a in _WIRINGS):
        _WIRINGS.append(wiring)


def wirings() -> list[NetworkWiring]:
    return list(_WIRINGS)


def create(path: Path, syscalls: sc.Syscalls | None = None) -> None:
    """A new network namespace with `lo` up, pinned at `path` (like `ip netns add`)."""
    syscalls = syscalls or sc.LinuxSyscalls()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.unshare(sc.CLONE_NEWNET)
        try:
            syscalls.mount("/proc/thread-self/ns/net", str(path), None, sc.MS_BIND, None)
            loopback_up()
        finally:
            syscalls.setns(original, sc.CLONE_NEWNET)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    finally:
        os.close(original)


def loopback_up() -> None:
    sc.LinuxSyscalls().loopback_up()


def destroy(path: Path, syscalls: sc.Syscalls | None = None) -> None:
    """Unpin and remove the namespace file (the namespace dies with its last user)."""
    syscalls = syscalls or sc.LinuxSyscalls()
    if not path.exists():
        return
    with contextlib.suppress(OSError):
        syscalls.umount2(str(path), sc.MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
