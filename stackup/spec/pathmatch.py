"""Paths in the stack file tree (`services.*.ports`) and patterns over them."""

from __future__ import annotations


def matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """`*` matches any one element, `[]` any list index."""
    if len(path) != len(pattern):
        return False
    for part, want in zip(path, pattern):
        if want == "*":
            continue
        if want == "[]":
            if not (part.isdigit() or part == "[]"):
                return False
            continue
        if part != want:
            return False
    return True


def compile_table(table: dict[str, object]) -> list[tuple[tuple[str, ...], object]]:
    return [(tuple(key.split(".")), value) for key, value in table.items()]


def lookup(table: list[tuple[tuple[str, ...], object]], path: tuple[str, ...]):
    for pattern, value in table:
        if matches(path, pattern):
            return value
    return None


def dotted(path: tuple) -> str:
    """A user-facing attribute path: `services.web.ports[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
