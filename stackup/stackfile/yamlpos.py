"""YAML loading that remembers where every node came from.

Stack files are read with YAML 1.2 scalar rules (as docker compose's go-yaml v3 reads
them: `yes`, `on` and `1:20` stay strings, `0440` is octal) and every mapping and
sequence remembers the file, line and column of its entries, so that an error can
point at `compose.yaml:12:7`. The `!reset` and `!override` tags are recorded as paths
the way compose's reset processor records them.
"""

from __future__ import annotations

import math
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
            number = sign * int(body, {"0b": 2, "0o": 8, "0x": 16}[body[:2]])
        elif len(body) > 1 and body[0] == "0":
            number = sign * int(body, 8)
        else:
            number = sign * int(body)
    except ValueError:
        return None
    # as go-yaml: an integer is an int64 or a uint64; a larger one is read as a float, or text
    return number if -2 ** 63 <= number < 2 ** 64 else None


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
            value = float(text)
            return text if math.isinf(value) else value  # out of a float's range: text, as go-yaml
        if text in _SPECIAL_FLOAT:
            return _SPECIAL_FLOAT[text]
    return text


class Document(NamedTuple):
    value: Any
    reset_paths: list[tuple[str, ...]]
    override_paths: list[tuple[str, ...]]


# What aliases may make of a small text ("billion laughs"), bounded as go-yaml v3 bounds it for
# compose: past 1,000 nodes, at most 99% of the nodes built may come from aliases, a share that
# falls to 10% between 400,000 and 4,000,000 nodes. A file without aliases is never refused.
ALIAS_SHARE_FROM, ALIAS_SHARE_TO = 400_000, 4_000_000
# go-yaml counts nodes only, so a long string aliased a few thousand times passes it and prints as
# hundreds of megabytes: the text that aliases copy is bounded too (far above any real file's).
MAX_ALIAS_TEXT = 16 * 1024 * 1024
# Every later step (interpolation, merging, rendering) walks the tree recursively: a depth that
# no stack file needs, well within Python's recursion limit whatever the step.
MAX_DEPTH = 128
# Each document of a file is merged over the ones before, at a cost that grows with all of them
# (20,000 one-line documents took minutes): real files have one, or a few.
MAX_DOCUMENTS = 100


def allowed_alias_share(nodes: int) -> float:
    """The share of `nodes` that may come from expanding aliases."""
    if nodes <= ALIAS_SHARE_FROM:
        return 0.99
    if nodes >= ALIAS_SHARE_TO:
        return 0.10
    return 0.99 - 0.89 * (nodes - ALIAS_SHARE_FROM) / (ALIAS_SHARE_TO - ALIAS_SHARE_FROM)


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.resets: list[tuple[str, ...]] = []
        self.overrides: list[tuple[str, ...]] = []
        self.active: set[int] = set()
        # where each node is written (its parent and place there): met anywhere else, it is an alias
        self.homes: dict[int, tuple[int, int]] = {}
        self.nodes = 0
        self.aliased_nodes = 0
        self.aliased_text = 0
        self.alias_depth = 0

    def pos(self, node) -> Pos:
        mark = node.start_mark
        return Pos(self.filename, mark.line + 1, mark.column + 1)

    def build(self, node, path: tuple[str, ...], depth: int = 0, place: tuple[int, int] = (0, 0)) -> Any:
        """The value of `node`, found at `place` (its parent's id and its index there)."""
        if depth > MAX_DEPTH:
            raise YamlError(f"{self.pos(node)}: the document nests deeper than {MAX_DEPTH} levels")
        if self.homes.setdefault(id(node), place) != place:
            self.count(node, path)  # the alias itself, then its target as copied by the alias
            self.alias_depth += 1
            try:
                return self.build_node(node, path, depth)
            finally:
                self.alias_depth -= 1
        return self.build_node(node, path, depth)

    def count(self, node, path: tuple[str, ...]) -> None:
        self.nodes += 1
        if not self.alias_depth:
            return
        self.aliased_nodes += 1
        if isinstance(node, yaml.ScalarNode):
            self.aliased_text += len(node.value)
            if self.aliased_text > MAX_ALIAS_TEXT:
                raise YamlError(f"{self.pos(node)}: {'.'.join(path) or 'the document'}: excessive aliasing: "
                                f"aliases copy more than {MAX_ALIAS_TEXT // 2 ** 20} MiB of text")
        if (self.aliased_nodes > 100 and self.nodes > 1000
                and self.aliased_nodes > allowed_alias_share(self.nodes) * self.nodes):
            raise YamlError(f"{self.pos(node)}: excessive aliasing: the document's aliases expand to too many "
                            f"nodes ({self.aliased_nodes:,} of {self.nodes:,})")

    def build_node(self, node, path: tuple[str, ...], depth: int) -> Any:
        self.count(node, path)
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
                return self.sequence(node, path, depth)
            return self.mapping(node, path, depth)
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

    def sequence(self, node, path, depth: int) -> YSeq:
        seq = YSeq(pos=self.pos(node))
        for index, item in enumerate(node.value):
            value = self.build(item, path + (str(index),), depth + 1, (id(node), index))
            if value is _DROP:
                continue
            seq.append(value)
            seq.ipos.append(self.pos(item))
        return seq

    def mapping(self, node, path, depth: int) -> YMap:
        result = YMap(pos=self.pos(node))
        merged: list[tuple[Any, Pos, Pos, Any]] = []
        seen: dict[str, int] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            self.count(key_node, path)
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and key_node.tag == PLAIN_TAG:
                merged.extend(self.merge_sources(value_node, path, depth, (id(node), index)))
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
            value = self.build(value_node, path + (key,), depth + 1, (id(node), index))
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

    def merge_sources(self, node, path, depth: int, place: tuple[int, int]):
        if isinstance(node, yaml.SequenceNode):
            sources = [(source, (id(node), index)) for index, source in enumerate(node.value)]
        else:
            sources = [(node, place)]
        out: dict[str, tuple[Any, Pos, Pos, Any]] = {}  # the first source to name a key wins
        for source, where in sources:
            value = self.build(source, path, depth, where)
            if not isinstance(value, YMap):
                raise YamlError(f"{self.pos(source)}: a merge key (<<) needs a mapping or a list of mappings")
            for key in value:
                if key not in out:
                    out[key] = (key, value.kpos[key], value.vpos[key], value[key])
        return list(out.values())


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
    documents: list[Document] = []
    loader = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if len(documents) == MAX_DOCUMENTS:
                raise YamlError(f"{Pos(filename, node.start_mark.line + 1, node.start_mark.column + 1)}: "
                                f"more than {MAX_DOCUMENTS} YAML documents in one file")
            builder = _Builder(filename)
            value = builder.build(node, ())
            documents.append(Document(None if value is _DROP else value, builder.resets, builder.overrides))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        problem = exc.problem or exc.context or "invalid YAML"
        if problem == "exceeded maximum nesting depth":  # libyaml's own bound (1,000), above ours
            problem = f"the document nests deeper than {MAX_DEPTH} levels"
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
