"""Problems found in stack files, each with where it is and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackup.errors import UserError
from stackup.spec.pathmatch import dotted
from stackup.spec.yamlpos import Pos, position_of


@dataclass
class Problem:
    message: str
    path: tuple = ()
    pos: Pos | None = None
    file: str | None = None

    def line(self) -> str:
        where = str(self.pos) if self.pos else (self.file or "")
        attr = dotted(self.path)
        parts = [p for p in (where, attr) if p]
        return ": ".join(parts + [self.message])


@dataclass
class Problems:
    """Collects every problem so the user sees them all at once."""

    items: list[Problem] = field(default_factory=list)
    trees: list[tuple[str, Any]] = field(default_factory=list)

    def remember(self, filename: str, tree: Any) -> None:
        """A raw file tree where positions of later problems can be looked up."""
        self.trees.append((filename, tree))

    def add(self, message: str, path: tuple = (), *, pos: Pos | None = None, file: str | None = None,
            tree: Any = None, key: bool = False) -> None:
        if pos is None and tree is not None:
            pos = position_of(tree, _int_path(path), key=key)
        if pos is None and file is None and path:
            pos = self.find(path, key=key)
        self.items.append(Problem(message, tuple(path), pos, file))

    def find(self, path: tuple, key: bool = False) -> Pos | None:
        """The position of `path` in the first remembered file that has it."""
        ipath = _int_path(path)
        fallback = None
        for _name, tree in self.trees:
            pos = position_of(tree, ipath, key=key)
            if pos is None:
                continue
            if _reaches(tree, ipath):
                return pos
            fallback = fallback or pos
        return fallback

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            lines = []
            for problem in self.items:
                text = problem.line()
                if text not in lines:
                    lines.append(text)
            raise UserError(lines[0] if len(lines) == 1 else f"{len(lines)} problems in the stack file",
                            problems=lines)


def _int_path(path: tuple) -> tuple:
    return tuple(path)


def _reaches(tree: Any, path: tuple) -> bool:
    node = tree
    for part in path:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def fail(message: str, path: tuple = (), pos: Pos | None = None, file: str | None = None):
    problems = Problems()
    problems.add(message, path, pos=pos, file=file)
    problems.raise_if_any()
