"""The host's processes by command line: how the engine finds its own processes again
(shims name `stackup-shim`, the container's directory and id; helpers name their module,
the root and the ids they serve) when the record that held their pid is lost."""

from __future__ import annotations

import os
from collections.abc import Iterator


def command_lines() -> Iterator[tuple[int, list[str]]]:
    """(pid, argv) of every process whose command line can be read (not this one)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        yield int(entry), argv
