"""Paths in the stack file tree (`services.*.ports`) and patterns over them."""

from __future__ import annotations

from typing import Any


def matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """`*` matches any one element, `[]` any list index."""
    if len(path) != len(pattern):
        return False
    for part, want in zip(path, pattern):
        if want == "*":
            continue
        if want == "[]":
            if not (part.isdigit() or part == "[]" or part.startswith("[")):
                return False
            continue
        if part != want:
            return False
    return True


class Table:
    """Patterns mapped to values, indexed by length and last element (lookups are hot)."""

    def __init__(self, entries: dict[str, Any]):
        self.index: dict[tuple[int, str], list[tuple[tuple[str, ...], Any]]] = {}
        for key, value in entries.items():
            pattern = tuple(key.split(".")) if key else ()
            self.index.setdefault((len(pattern), pattern[-1] if pattern else ""), []).append((pattern, value))

    def lookup(self, path: tuple[str, ...]) -> Any:
        size = len(path)
        last = path[-1] if path else ""
        for tail in (last, "*", "[]"):
            for pattern, value in self.index.get((size, tail), ()):
                if matches(path, pattern):
                    return value
        return None


def compile_table(table: dict[str, Any]) -> Table:
    return Table(table)


def lookup(table: Table, path: tuple[str, ...]) -> Any:
    return table.lookup(path)


def dotted(path: tuple) -> str:
    """A user-facing attribute path: `services.web.ports[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
