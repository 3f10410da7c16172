"""YAML loading that remembers where every node came from.

Stack files are read with YAML 1.2 scalar rules (as docker compose's go-yaml v3 reads
them: `yes`, `on` and `1:20` stay strings, `0440` is octal) and every mapping and
sequence remembers the file, line and column of its entries, so that an error can
point at `compose.yaml:12:7`. The `!reset` and `!override` tags are recorded as paths
the way compose's reset processor records them.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml

try:  # libyaml's parser is several times faster; the resolver stays ours
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - pure python fallback
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


class Pos(NamedTuple):
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class YMap(dict):
    """A mapping that remembers the position of each key and value."""

    __slots__ = ("pos", "kpos", "vpos")

    def __init__(self, *args, pos: Pos | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pos = pos
        self.kpos: dict[str, Pos] = {}
        self.vpos: dict[str, Pos] = {}


class YSeq(list):
    """A sequence that remembers the position of each item."""

    __slots__ = ("pos", "ipos")

    def __init__(self, *args, pos: Pos | None = None):
        super().__init__(*args)
        self.pos = pos
        self.ipos: list[Pos] = []


class YamlError(Exception):
    """The text is not YAML a stack file can be made of (the message names the place)."""


PLAIN_TAG = "tag:stackup:plain"
OVERRIDE_TAG = "!override"
RESET_TAG = "!reset"

# YAML 1.2 core schema, read the way go-yaml v3 reads plain scalars.
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"),
                  ".Inf": float("inf"), "+.Inf": float("inf"), "-.Inf": float("-inf"),
                  ".INF": float("inf"), ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan")}


class _Resolver:
    """Tags every scalar as a string: the constructor below does the typing itself."""

    def descend_resolver(self, current_node, current_index):
        pass

    def ascend_resolver(self):
        pass

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode:
            return PLAIN_TAG if implicit[0] else "tag:yaml.org,2002:str"
        if kind is yaml.SequenceNode:
            return "tag:yaml.org,2002:seq"
        return "tag:yaml.org,2002:map"


class _Loader(_Parser, _Resolver):
    def __init__(self, stream):
        _Parser.__init__(self, stream)


def _parse_int(text: str) -> int | None:
    if not _INT.match(text):
        return None
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-").replace("_", "")
    try:
        if body[:2] in ("0b", "0o", "0x"):
            return sign * int(body, {"0b": 2, "0o": 8, "0x": 16}[body[:2]])
        if len(body) > 1 and body[0] == "0":
            return sign * int(body, 8)
        return sign * int(body)
    except ValueError:
        return None


def plain_scalar(text: str) -> Any:
    """The value of an unquoted scalar under YAML 1.2 (go-yaml v3 flavour)."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text and (text[0].isdigit() or text[0] in "+-."):
        number = _parse_int(text)
        if number is not None:
            return number
        if _FLOAT.match(text):
            return float(text)
        if text in _SPECIAL_FLOAT:
            return _SPECIAL_FLOAT[text]
    return text


class Document(NamedTuple):
    value: Any
    reset_paths: list[tuple[str, ...]]
    override_paths: list[tuple[str, ...]]


MAX_NODES = 200_000  # aliases can make a small text huge ("billion laughs"): stop well before


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.built = 0
        self.resets: list[tuple[str, ...]] = []
        self.overrides: list[tuple[str, ...]] = []
        self.active: set[int] = set()

    def pos(self, node) -> Pos:
        mark = node.start_mark
        return Pos(self.filename, mark.line + 1, mark.column + 1)

    def build(self, node, path: tuple[str, ...]) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise YamlError(f"{self.pos(node)}: the document expands to too many nodes (aliases used recursively?)")
        tag = node.tag
        if tag == RESET_TAG:
            self.resets.append(path)
            return _DROP
        if tag == OVERRIDE_TAG:
            self.overrides.append(path)
        if id(node) in self.active:
            raise YamlError(f"{self.pos(node)}: an alias refers to a node that contains it (a cycle)")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return self.sequence(node, path)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def scalar(self, node) -> Any:
        tag = node.tag
        if tag == PLAIN_TAG:
            return plain_scalar(node.value)
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                   "tag:yaml.org,2002:null"):
            value = plain_scalar(node.value)
            return value
        return node.value

    def sequence(self, node, path) -> YSeq:
        seq = YSeq(pos=self.pos(node))
        for index, item in enumerate(node.value):
            value = self.build(item, path + (str(index),))
            if value is _DROP:
                continue
            seq.append(value)
            seq.ipos.append(self.pos(item))
        return seq

    def mapping(self, node, path) -> YMap:
        result = YMap(pos=self.pos(node))
        merged: list[tuple[Any, Pos, Pos, Any]] = []
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and key_node.tag == PLAIN_TAG:
                merged.extend(self.merge_sources(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(f"{self.pos(key_node)}: a mapping key must be a plain value, not a "
                                f"{'list' if isinstance(key_node, yaml.SequenceNode) else 'mapping'}")
            key = plain_scalar(key_node.value) if key_node.tag == PLAIN_TAG else key_node.value
            if not isinstance(key, str):
                # as compose: a key must be a string (quote it: "1": or "null":)
                where = ".".join(path) or "the top level"
                raise YamlError(f"{self.pos(key_node)}: non-string key {key_node.value or 'null'!r} in {where} "
                                f"(quote it if it is meant as text)")
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(f"{self.pos(key_node)}: mapping key \"{key}\" already defined at line {seen[key]}")
            seen[key] = line
            value = self.build(value_node, path + (key,))
            if value is _DROP:
                continue
            result[key] = value
            result.kpos[key] = self.pos(key_node)
            result.vpos[key] = self.pos(value_node)
        # merge keys (`<<: *anchor`) never override keys written out in the mapping
        for key, kpos, vpos, value in merged:
            if key not in result and key not in seen:
                result[key] = value
                result.kpos[key] = kpos
                result.vpos[key] = vpos
        return result

    def merge_sources(self, node, path):
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for source in sources:
            value = self.build(source, path)
            if not isinstance(value, YMap):
                raise YamlError(f"{self.pos(source)}: a merge key (<<) needs a mapping or a list of mappings")
            for key in value:
                if key not in [k for k, *_ in out]:
                    out.append((key, value.kpos.get(key), value.vpos.get(key), value[key]))
        return out


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if key is True:
        return "true"
    if key is False:
        return "false"
    return str(key)


_DROP = object()


def load_documents(text: str, filename: str) -> list[Document]:
    """Every document of a YAML text, with positions and reset/override paths."""
    documents = []
    loader = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            builder = _Builder(filename)
            value = builder.build(node, ())
            documents.append(Document(None if value is _DROP else value, builder.resets, builder.overrides))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None and "\t" in problem + _char_at(text, mark.line, mark.column) and "tab" not in problem:
            problem += " (a tab: YAML indents with spaces only)"
        elif mark is not None and "tab" in problem:
            problem += " (YAML indents with spaces only)"
        raise YamlError(f"{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{filename}: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise YamlError(f"{filename}: the YAML nests too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    if 0 <= line < len(lines) and 0 <= column < len(lines[line]):
        return lines[line][column]
    return ""


def position_of(root: Any, path: tuple, *, key: bool = False) -> Pos | None:
    """The position of the node at `path` (or of its nearest ancestor we know)."""
    node = root
    best = getattr(root, "pos", None)
    for part in path:
        if isinstance(node, YMap) and str(part) in node:
            part = str(part)
            best = (node.kpos if key else node.vpos).get(part, best)
            node = node[part]
        elif isinstance(node, YSeq) and str(part).isdigit() and int(part) < len(node):
            part = int(part)
            best = node.ipos[part] if part < len(node.ipos) else best
            node = node[part]
        else:
            break
    return best
