"""Go text/template, the subset Docker users write in `--format`, evaluated over plain
Python values (dicts for Go structs and maps, lists for slices).

Supported: text with `{{ }}` actions (and `{{-`/`-}}` trimming, `{{/* comments */}}`);
`.`, `.Field.Sub`, `$`, `$var.Field`; string, raw-string, number and bool literals;
pipelines (`a | b`), parentheses; `if`/`else if`/`else`, `range` (with `$i, $v :=`,
and `else`), `with`, `end`; variable declarations `$x := pipeline`; the functions of Go
(and, or, not, len, index, print, printf, println, eq, ne, lt, le, gt, ge, slice) and of
Docker's CLI (json, join, split, lower, upper, title, pad, truncate). Anything else is a
`TemplateError` naming what is not supported. No PyPI package implements Go templates
in Python well enough (the one that exists binds a Go library and is unmaintained).

Values print as Go's fmt prints them: nil as `<no value>`, maps as `map[k:v]` with
sorted keys, slices as `[a b]`, bools as `true`/`false`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackup.errors import UserError


class TemplateError(UserError):
    """A template that does not parse, uses something outside the subset, or fails to run."""


class Missing:
    """The value of a map key that is absent (prints as Go's `<no value>`)."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = Missing()


class Struct(dict[str, Any]):
    """A Go struct: a field it lacks is an error (a plain dict is a Go map, whose missing
    keys are `<no value>`). A callable value is a method: `{{.Label "k"}}` calls it."""

    type_name = "struct"

# --- lexing ---------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
""", re.X)
_CHAIN = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass
class Token:
    kind: str
    text: str


def _tokens(source: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m:
            raise TemplateError(f"template: unexpected {source[pos]!r} in {{{{{source}}}}}")
        kind = m.lastgroup or ""
        text = m.group()
        pos = m.end()
        if kind == "space":
            continue
        if kind in ("var", "rparen") and pos < len(source):  # $x.Field, (pipeline).Field
            chain = _CHAIN.match(source, pos)
            if chain:
                out.append(Token(kind, text))
                out.append(Token("chain", chain.group()))
                pos = chain.end()
                continue
        out.append(Token(kind, text))
    return out


# --- the parse tree ---------------------------------------------------------------------

@dataclass
class Pipeline:
    commands: list[list[Any]]          # each command: a list of operands (nodes)
    declare: list[str] = field(default_factory=list)   # `$x :=` / `$i, $v :=`


@dataclass
class Text:
    text: str


@dataclass
class Action:
    pipeline: Pipeline


@dataclass
class Block:
    kind: str                          # if, range, with
    pipeline: Pipeline
    body: list[Any]
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class Operand:
    kind: str                          # field, dot, var, string, number, bool, nil, func, sub
    value: Any
    chain: str = ""                    # a `.A.B` after a variable or a parenthesized pipeline


def _literal(token: Token) -> Operand:
    if token.kind == "string":
        return Operand("string", json.loads(token.text))
    if token.kind == "raw":
        return Operand("string", token.text[1:-1])
    if token.kind == "char":
        return Operand("number", ord(json.loads('"' + token.text[1:-1] + '"')))
    text = token.text
    if text.lower().startswith(("0x", "-0x")):
        return Operand("number", int(text, 16))
    return Operand("number", float(text) if re.search(r"[.eE]", text) else int(text))


class _Parser:
    def __init__(self, source: str):
        self.source = source

    def parse(self) -> list[Any]:
        items = self._items()
        nodes, rest = self._nodes(items, 0, ())
        if rest != len(items):
            raise TemplateError(f"template: unexpected {{{{{items[rest][1]}}}}}")
        return nodes

    def _items(self) -> list[tuple[str, str]]:
        """[("text", s) | ("action", inner)], trimming around `{{- -}}`; comments dropped."""
        items: list[tuple[str, str]] = []
        pos = 0
        for m in _ACTION.finditer(self.source):
            text = self.source[pos:m.start()]
            if m.group(1):
                text = text.rstrip()
            if items and items[-1][0] == "trim":
                items.pop()
                text = text.lstrip()
            if text:
                items.append(("text", text))
            inner = m.group(2).strip()
            if not (inner.startswith("/*") and inner.endswith("*/")):
                items.append(("action", inner))
            if m.group(3):
                items.append(("trim", ""))
            pos = m.end()
        text = self.source[pos:]
        if items and items[-1][0] == "trim":
            items.pop()
            text = text.lstrip()
        if "{{" in text:
            raise TemplateError(f"template: unclosed action in {text!r}")
        if text:
            items.append(("text", text))
        return items

    def _nodes(self, items: list[tuple[str, str]], i: int, stops: tuple[str, ...]) -> tuple[list[Any], int]:
        nodes: list[Any] = []
        while i < len(items):
            kind, inner = items[i]
            if kind == "text":
                nodes.append(Text(inner))
                i += 1
                continue
            word = inner.split(None, 1)[0] if inner else ""
            if word in stops:
                return nodes, i
            if word in ("if", "range", "with"):
                block, i = self._block(items, i, word, inner[len(word):])
                nodes.append(block)
                continue
            if word in ("else", "end"):
                raise TemplateError(f"template: unexpected {{{{{inner}}}}}")
            if word in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f"template: {{{{{word}}}}} is not supported by stackup's --format")
            nodes.append(Action(self._pipeline(inner)))
            i += 1
        if stops:
            raise TemplateError("template: unexpected EOF (an {{end}} is missing)")
        return nodes, i

    def _block(self, items: list[tuple[str, str]], i: int, kind: str, head: str) -> tuple[Block, int]:
        block = Block(kind, self._pipeline(head.strip(), allow_declare=True), [])
        block.body, i = self._nodes(items, i + 1, ("else", "end"))
        inner = items[i][1]
        if inner.split(None, 1)[0] == "else":
            rest = inner[4:].strip()
            if rest.startswith("if ") or rest.startswith("with "):  # else if / else with: a nested block
                word = rest.split(None, 1)[0]
                nested, i = self._block(items, i, word, rest[len(word):])
                block.otherwise = [nested]
                return block, i  # the nested block consumed the shared {{end}}
            if rest:
                raise TemplateError(f"template: unexpected {{{{{inner}}}}}")
            block.otherwise, i = self._nodes(items, i + 1, ("end",))
        if items[i][1] != "end":
            raise TemplateError(f"template: unexpected {{{{{items[i][1]}}}}}")
        return block, i + 1

    def _pipeline(self, source: str, allow_declare: bool = True) -> Pipeline:
        tokens = _tokens(source)
        if not tokens:
            raise TemplateError("template: missing value for command")
        declare: list[str] = []
        kinds = [t.kind for t in tokens]
        if "declare" in kinds and allow_declare:
            at = kinds.index("declare")
            names = tokens[:at]
            if not names or any(t.kind not in ("var", "comma") for t in names):
                raise TemplateError(f"template: bad declaration in {{{{{source}}}}}")
            declare = [t.text for t in names if t.kind == "var"]
            tokens = tokens[at + 1:]
        elif "assign" in kinds:
            raise TemplateError(f"template: assignment is not supported by stackup's --format: {{{{{source}}}}}")
        pipeline, rest = self._commands(tokens, 0)
        if rest != len(tokens):
            raise TemplateError(f"template: unexpected {tokens[rest].text!r} in {{{{{source}}}}}")
        pipeline.declare = declare
        return pipeline

    def _commands(self, tokens: list[Token], i: int) -> tuple[Pipeline, int]:
        commands: list[list[Any]] = [[]]
        while i < len(tokens):
            token = tokens[i]
            if token.kind == "rparen":
                break
            if token.kind == "pipe":
                if not commands[-1]:
                    raise TemplateError("template: missing command before |")
                commands.append([])
                i += 1
                continue
            operand, i = self._operand(tokens, i)
            commands[-1].append(operand)
        if not commands[-1]:
            raise TemplateError("template: missing value for command")
        return Pipeline(commands), i

    def _operand(self, tokens: list[Token], i: int) -> tuple[Operand, int]:
        token = tokens[i]
        if token.kind == "lparen":
            sub, j = self._commands(tokens, i + 1)
            if j >= len(tokens) or tokens[j].kind != "rparen":
                raise TemplateError("template: unclosed left paren")
            chain = ""
            if j + 1 < len(tokens) and tokens[j + 1].kind == "chain":
                chain, j = tokens[j + 1].text, j + 1
            return Operand("sub", sub, chain), j + 1
        if token.kind == "var":
            chain = ""
            if i + 1 < len(tokens) and tokens[i + 1].kind == "chain":
                chain, i = tokens[i + 1].text, i + 1
            return Operand("var", token.text, chain), i + 1
        if token.kind == "field":
            return Operand("field", token.text), i + 1
        if token.kind == "dot":
            return Operand("dot", None), i + 1
        if token.kind in ("string", "raw", "char", "number"):
            return _literal(token), i + 1
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Operand("bool", token.text == "true"), i + 1
            if token.text == "nil":
                return Operand("nil", None), i + 1
            if token.text not in FUNCTIONS:
                raise TemplateError(f'template: function "{token.text}" not defined '
                                    f"(stackup's --format knows {', '.join(sorted(FUNCTIONS))})")
            return Operand("func", token.text), i + 1
        raise TemplateError(f"template: unexpected {token.text!r}")


# --- values as Go prints them -----------------------------------------------------------

def go_string(value: Any) -> str:
    """fmt's %v of a value."""
    if value is None or isinstance(value, Missing):
        return "<nil>" if value is None else "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{go_string(k)}:{go_string(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = f"{value:g}" if abs(value) < 1e21 else f"{value:e}"
    return re.sub(r"e([-+])0*(\d\d)", r"e\1\2", text)


def truth(value: Any) -> bool:
    """Go's notion of true: not the zero value, not empty."""
    if value is None or isinstance(value, Missing):
        return False
    if isinstance(value, (bool, int, float, str, Mapping, list, tuple)):
        return bool(value)
    return True


# --- functions --------------------------------------------------------------------------

def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(key, "")  # Docker's maps (Labels, Options) are map[string]string
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(key, int) or not 0 <= key < len(item):
                raise TemplateError(f"template: error calling index: index out of range: {key}")
            item = item[key]
        else:
            raise TemplateError(f"template: error calling index: can't index item of type {_type(item)}")
    return item


def _type(value: Any) -> str:
    return {dict: "map", list: "slice", str: "string", int: "int", float: "float64",
            bool: "bool"}.get(type(value), type(value).__name__)


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _printf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs people use: %s %v %d %q %t %x %f %%, widths, `-`."""
    values = list(args)
    out, pos = [], 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, precision, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if not values:
            out.append(f"%!{verb}(MISSING)")
            continue
        value = values.pop(0)
        if verb in ("s", "v"):
            text = go_string(value)
            if precision is not None and verb == "s":
                text = text[:int(precision)]
        elif verb == "q":
            text = json.dumps(go_string(value) if not isinstance(value, str) else value, ensure_ascii=False)
        elif verb == "d" and isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif verb == "t" and isinstance(value, bool):
            text = go_string(value)
        elif verb in ("x", "X") and isinstance(value, (int, str)) and not isinstance(value, bool):
            text = format(value, verb) if isinstance(value, int) else value.encode().hex()
            text = text.upper() if verb == "X" else text
        elif verb in ("f", "g", "e") and isinstance(value, (int, float)) and not isinstance(value, bool):
            text = format(float(value), f".{precision or 6}{verb}" if verb == "f" or precision else verb)
        else:
            text = f"%!{verb}({_type(value)}={go_string(value)})"
        if width and width != "*":
            text = text.ljust(int(width)) if "-" in flags else text.rjust(
                int(width), "0" if "0" in flags and verb in "dfx" else " ")
        out.append(text)
    out.append(fmt[pos:])
    if values:
        out.append("%!(EXTRA " + ", ".join(f"{_type(v)}={go_string(v)}" for v in values) + ")")
    return "".join(out)


def _print(*args: Any) -> str:
    """fmt.Sprint: spaces only between operands when neither is a string."""
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_string(arg)
    return out


def _json(value: Any) -> str:
    if isinstance(value, Missing):
        return "null"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or type(a) is type(b)


def _eq(a: Any, *others: Any) -> bool:
    """Go's eq: a equals any of the others (basic values of one kind only)."""
    if not others:
        raise TemplateError("template: error calling eq: missing argument for comparison")
    for b in others:
        if not _comparable(a, b):
            raise TemplateError("template: error calling eq: incompatible types for comparison")
        if a == b:
            return True
    return False


def _ordered(name: str, op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if not _comparable(a, b) or isinstance(a, (Mapping, list, tuple, bool)):
            raise TemplateError(f"template: error calling {name}: incompatible types for comparison")
        return op(a, b)
    return compare


def _pad(value: Any, before: int, after: int) -> str:
    return " " * before + go_string(value) + " " * after


def _truncate(value: Any, n: int) -> str:
    text = go_string(value)
    return text[:n]


def _length(value: Any) -> int:
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value)
    raise TemplateError(f"template: error calling len: len of type {_type(value)}")


def _slice(value: Any, *bounds: int) -> Any:
    if not isinstance(value, (str, list, tuple)):
        raise TemplateError(f"template: error calling slice: can't slice item of type {_type(value)}")
    return value[slice(*bounds)] if bounds else value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: next((x for x in a if not truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if truth(x)), a[-1]),
    "not": lambda a: not truth(a),
    "len": _length,
    "index": _index,
    "slice": _slice,
    "print": _print,
    "printf": lambda fmt, *a: _printf(fmt, *a),
    "println": lambda *a: " ".join(go_string(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    # Docker's CLI's own
    "json": _json,
    "join": lambda items, sep: sep.join(go_string(x) for x in items),
    "split": lambda text, sep: text.split(sep),
    "lower": lambda text: go_string(text).lower(),
    "upper": lambda text: go_string(text).upper(),
    "title": lambda text: go_string(text).title(),
    "pad": _pad,
    "truncate": _truncate,
}


# --- evaluation ---------------------------------------------------------------------------

class _Run:
    def __init__(self, root: Any):
        self.scopes: list[dict[str, Any]] = [{"$": root}]

    def var(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f"template: undefined variable: {name}")

    def nodes(self, nodes: Sequence[Any], dot: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(node.pipeline, dot)
                if not node.pipeline.declare:
                    out.append(go_string(value))
            else:
                self.block(node, dot, out)

    def block(self, block: Block, dot: Any, out: list[str]) -> None:
        self.scopes.append({})
        try:
            if block.kind == "range":
                self._range(block, dot, out)
                return
            value = self.pipeline(block.pipeline, dot)
            if truth(value):
                self.nodes(block.body, value if block.kind == "with" else dot, out)
            else:
                self.nodes(block.otherwise, dot, out)
        finally:
            self.scopes.pop()

    def _range(self, block: Block, dot: Any, out: list[str]) -> None:
        declare = block.pipeline.declare
        block.pipeline.declare = []
        try:
            value = self.pipeline(block.pipeline, dot)
        finally:
            block.pipeline.declare = declare
        if isinstance(value, Mapping):
            pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None or isinstance(value, Missing):
            pairs = []
        else:
            raise TemplateError(f"template: range can't iterate over {go_string(value)}")
        if not pairs:
            self.nodes(block.otherwise, dot, out)
            return
        for key, item in pairs:
            if len(declare) == 1:
                self.scopes[-1][declare[0]] = item
            elif len(declare) == 2:
                self.scopes[-1][declare[0]], self.scopes[-1][declare[1]] = key, item
            self.nodes(block.body, item, out)

    def pipeline(self, pipeline: Pipeline, dot: Any) -> Any:
        value: Any = NO_VALUE
        for n, command in enumerate(pipeline.commands):
            value = self.command(command, dot, value if n else None, piped=n > 0)
        for name in pipeline.declare[-1:]:
            self.scopes[-1][name] = value
        return value

    def command(self, command: list[Operand], dot: Any, piped_value: Any, piped: bool) -> Any:
        head = command[0]
        if head.kind == "func":
            args = [self.operand(o, dot) for o in command[1:]]
            if piped:
                args.append(piped_value)
            try:
                return FUNCTIONS[head.value](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError) as exc:
                raise TemplateError(f"template: error calling {head.value}: {exc}") from None
        if head.kind in ("field", "var", "sub"):
            method = self.operand(head, dot)
            if callable(method):  # a Struct's method, with its arguments
                args = [self.operand(o, dot) for o in command[1:]] + ([piped_value] if piped else [])
                try:
                    return method(*args)
                except TypeError as exc:
                    raise TemplateError(f"template: wrong number of args: {exc}") from None
        if len(command) > 1 or piped:
            raise TemplateError(f"template: can't give argument to non-function {self._describe(head)}")
        return self.operand(head, dot)

    @staticmethod
    def _describe(operand: Operand) -> str:
        return operand.value if isinstance(operand.value, str) else str(operand.kind)

    def operand(self, operand: Operand, dot: Any) -> Any:
        kind = operand.kind
        if kind == "field":
            return _fields(dot, operand.value)
        if kind == "dot":
            return dot
        if kind == "var":
            return _fields(self.var(operand.value), operand.chain)
        if kind == "sub":
            return _fields(self.pipeline(operand.value, dot), operand.chain)
        if kind == "func":
            return FUNCTIONS[operand.value]()
        return operand.value


def _fields(value: Any, chain: str) -> Any:
    for name in chain.split(".")[1:] if chain else ():
        if isinstance(value, Struct):
            if name not in value:
                raise TemplateError(f"template: can't evaluate field {name} in type {value.type_name}")
            value = value[name]
        elif isinstance(value, Mapping):
            value = value.get(name, NO_VALUE)
        elif value is None or isinstance(value, Missing):
            raise TemplateError(f"template: nil pointer evaluating .{name}")
        else:
            raise TemplateError(f"template: can't evaluate field {name} in type {_type(value)}")
    return value


@dataclass
class Template:
    """A parsed template; `render(value)` runs it over one value."""

    source: str
    nodes: list[Any]

    def render(self, value: Any) -> str:
        out: list[str] = []
        _Run(value).nodes(self.nodes, value, out)
        return "".join(out)


def parse(source: str) -> Template:
    """Parse a template (TemplateError, exit 2, on anything outside the subset)."""
    return Template(source, _Parser(source).parse())


def fields_used(template: Template) -> Iterator[str]:
    """The top-level `.Field` names the template reads (for a table's header)."""
    def walk(nodes: Sequence[Any]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, Action):
                yield from pipe(node.pipeline)
            elif isinstance(node, Block):
                yield from pipe(node.pipeline)
                yield from walk(node.body)
                yield from walk(node.otherwise)

    def pipe(pipeline: Pipeline) -> Iterator[str]:
        for command in pipeline.commands:
            for o in command:
                if o.kind == "field":
                    yield o.value.split(".")[1]
                elif o.kind == "sub":
                    yield from pipe(o.value)
    return walk(template.nodes)
