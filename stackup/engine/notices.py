"""The engine's one-line warnings about what it found and repaired on its own (a damaged
state file set aside, a leftover process or kernel object removed).

Each goes to stderr at once, as `stackup: warning: ...`, and is kept for the command's
lifetime, so that `stackup system check` can list what it repaired."""

from __future__ import annotations

import sys

_repairs: list[str] = []


def warn(message: str) -> None:
    _repairs.append(message)
    print(f"stackup: warning: {message}", file=sys.stderr, flush=True)


def repairs() -> list[str]:
    """What was reported so far in this process."""
    return list(_repairs)
