"""What the engine repaired of what an interrupted command left (a kill, a crash), so
that the command that did it can say so in one line.

The engine repairs as it finds (a container whose start or removal was cut short, a
network whose create was, a half-made volume); each repair is noted here, and the CLI
prints the notes when the command ends (`stackup: repaired ...: A; B`).
"""

from __future__ import annotations

_notes: list[str] = []


def note(what: str) -> None:
    """Record one repair ("container web-1: finished its interrupted removal")."""
    if what not in _notes:
        _notes.append(what)


def take() -> list[str]:
    """The repairs noted so far (and forget them)."""
    taken = list(_notes)
    _notes.clear()
    return taken


def summary() -> str | None:
    """The one line that reports them; None when nothing was repaired."""
    taken = take()
    if not taken:
        return None
    return "repaired what an interrupted command left: " + "; ".join(taken)
