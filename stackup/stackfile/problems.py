"""Problems found in stack files, each with where it is and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackup.errors import UserError
from stackup.stackfile.pathmatch import dotted
from stackup.stackfile.yamlpos import Pos, YMap, YSeq, position_of


@dataclass
class Problem:
    """One thing wrong with the stack file: what, at which attribute path, and where in which file."""

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
    indexes: list[dict[tuple, tuple]] = field(default_factory=list)

    def remember(self, filename: str, tree: Any) -> None:
        """Index the positions of a file's nodes, to place problems found after merging."""
        index: dict[tuple, tuple] = {}
        _index(tree, (), index)
        self.indexes.append(index)

    def add(self, message: str, path: tuple = (), *, pos: Pos | None = None, file: str | None = None,
            tree: Any = None, key: bool = False) -> None:
        if pos is None and tree is not None:
            pos = position_of(tree, _int_path(path), key=key)
        if pos is None and file is None and path:
            pos = self.find(path, key=key)
        self.items.append(Problem(message, tuple(path), pos, file))

    def find(self, path: tuple, key: bool = False) -> Pos | None:
        """The position of `path` in the first file that has it (else of its nearest parent)."""
        path = tuple(str(p) for p in path)
        for size in range(len(path), 0, -1):
            for index in self.indexes:
                found = index.get(path[:size])
                if found is not None:
                    return found[1] if key and size == len(path) else found[0]
        return None

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


def _index(node: Any, path: tuple, index: dict) -> None:
    """path -> (value position, key position) for every node of a positioned tree."""
    if isinstance(node, YMap):
        for key, value in node.items():
            sub = path + (key,)
            index[sub] = (node.vpos.get(key), node.kpos.get(key))
            _index(value, sub, index)
    elif isinstance(node, YSeq):
        for i, value in enumerate(node):
            sub = path + (str(i),)
            pos = node.ipos[i] if i < len(node.ipos) else None
            index[sub] = (pos, pos)
            if isinstance(value, str) and value:
                # `depends_on: [db]` is normalized to `depends_on: {db: ...}`: find `db` by name too
                index.setdefault(path + (value.split(":")[0],), (pos, pos))
            _index(value, sub, index)


def fail(message: str, path: tuple = (), pos: Pos | None = None, file: str | None = None):
    problems = Problems()
    problems.add(message, path, pos=pos, file=file)
    problems.raise_if_any()
