"""What the engine tells the user of what it found and repaired on its own.

Three kinds, one home:
- `warn(message)`: at once on stderr, `stackup: warning: ...`, for what the user may want
  to know of or act on (a damaged state file set aside, processes of a container without
  a record killed).
- `repaired(what)`: what an interrupted command left (a kill, a crash) and this one
  finished or undid (a removal or start cut short, a half-made network or volume). The
  CLI prints them when the command ends, in one line:
  `stackup: repaired what an interrupted command left: A; B`.
- `debug(message)`: only with --debug, why the engine chose what it did.
"""

from __future__ import annotations

import os
import sys

_repairs: list[str] = []
_debug = os.environ.get("STACKUP_DEBUG") == "1"


def warn(message: str) -> None:
    print(f"stackup: warning: {message}", file=sys.stderr, flush=True)


def set_debug(on: bool) -> None:
    """Turn `debug` lines on (the CLI's --debug) or off."""
    global _debug
    _debug = on


def debug(message: str) -> None:
    """A line on stderr, `stackup: debug: ...`, only with --debug (or STACKUP_DEBUG=1): why
    the engine chose what it did where the user might wonder (a stop without grace)."""
    if _debug:
        print(f"stackup: debug: {message}", file=sys.stderr, flush=True)


def repaired(what: str) -> None:
    """Record one repair ("container web-1: finished its interrupted removal")."""
    if what not in _repairs:
        _repairs.append(what)


def take_repairs() -> list[str]:
    """The repairs recorded so far (and forget them)."""
    taken = list(_repairs)
    _repairs.clear()
    return taken


def repairs_summary() -> str | None:
    """The one line that reports them; None when nothing was repaired."""
    taken = take_repairs()
    if not taken:
        return None
    return "repaired what an interrupted command left: " + "; ".join(taken)
