"""Variable substitution in stack files, with compose's whole syntax.

`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+alt}`, `${VAR+alt}`, defaults that nest (`${A:-${B:-c}}`) and `$$` for a
literal dollar. Values are substituted, mapping keys never are. After substitution
some attributes are cast (a `"${REPLICAS}"` that gives `"3"` becomes the integer 3)
exactly where compose casts them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Lookup = Callable[[str], "str | None"]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
# Defaults nest (`${A:-${B:-c}}`) and each level is a recursive call: far deeper than any real
# file needs, far shallower than Python's recursion limit.
MAX_NESTING = 64
# What substitution may add to a file: a large variable used thousands of times (or an .env
# whose lines double an earlier one) would otherwise grow without bound.
MAX_GROWTH = 16 * 2 ** 20


class TooLarge(Exception):
    """Substitution would produce more than it may (MAX_GROWTH characters)."""


def too_large() -> str:
    return f"variables expand to more than {MAX_GROWTH // 2 ** 20} MiB of text (a large value used many times?)"


class InterpolationError(Exception):
    """A template that cannot be substituted (the message says why)."""


class MissingRequired(InterpolationError):
    def __init__(self, variable: str, reason: str):
        self.variable = variable
        self.reason = reason
        text = f"required variable {variable} is missing a value"
        super().__init__(f"{text}: {reason}" if reason else text)


def substitute(template: str, lookup: Lookup, unset: list[str] | None = None, depth: int = 0,
               limit: int = MAX_GROWTH) -> str:
    """`template` with every variable replaced; `unset` collects names that had no value.

    TooLarge when the result would be longer than `limit` characters.
    """
    if "$" not in template:
        return template
    if depth > MAX_NESTING:
        raise InterpolationError(f"invalid interpolation: variables nest deeper than {MAX_NESTING} levels "
                                 f"(as in ${{A:-${{B:-…}}}})")
    out: list[str] = []
    size = 0
    i, n = 0, len(template)
    while i < n:
        if out:  # every pass appends one piece: count the one before
            size += len(out[-1])
            if size > limit:
                raise TooLarge()
        char = template[i]
        if char != "$":
            j = template.find("$", i)
            j = n if j < 0 else j
            out.append(template[i:j])
            i = j
            continue
        nxt = template[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = _closing_brace(template, i + 1)
            if end < 0:
                raise InterpolationError(f"invalid interpolation {template!r}: an unclosed '${{' (write a literal $ as $$)")
            out.append(_braced(template[i + 2:end], template, lookup, unset, depth, limit))
            i = end + 1
            continue
        match = _NAME.match(template, i + 1)
        if match:
            value = lookup(match.group())
            if value is None:
                if unset is not None:
                    unset.append(match.group())
                value = ""
            out.append(value)
            i = match.end()
            continue
        out.append("$")
        i += 1
    if out and size + len(out[-1]) > limit:
        raise TooLarge()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' that closes the '{' at `start` (braces of `${` nest)."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "}":
            depth -= 1
            if depth == 0:
                return i
        elif char == "{":
            depth += 1
        i += 1
    return -1


def _braced(body: str, template: str, lookup: Lookup, unset, depth: int, limit: int) -> str:
    match = _NAME.match(body)
    if not match:
        raise InterpolationError(f"invalid interpolation {template!r} (write a literal $ as $$)")
    name = match.group()
    rest = body[match.end():]
    if not rest:
        value = lookup(name)
        if value is None:
            if unset is not None:
                unset.append(name)
            return ""
        return value
    colon = rest.startswith(":")
    op = rest[1:2] if colon else rest[:1]
    if op not in ("-", "+", "?"):
        raise InterpolationError(f"invalid interpolation {template!r} (write a literal $ as $$)")
    argument = rest[2:] if colon else rest[1:]
    value = lookup(name)
    present = value is not None and (not colon or value != "")
    if op == "-":
        return value if present else substitute(argument, lookup, unset, depth + 1, limit)  # type: ignore[return-value]
    if op == "+":
        return substitute(argument, lookup, unset, depth + 1, limit) if present else (value or "")
    if not present:
        raise MissingRequired(name, substitute(argument, lookup, unset, depth + 1, limit))
    return value  # type: ignore[return-value]


# -- casting after substitution, where compose casts ------------------------------

def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "y", "yes", "on"):
        return True
    if lowered in ("false", "n", "no", "off"):
        return False
    raise ValueError(f"invalid boolean: {text}")


def _to_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # as compose's ParseFloat, which refuses what is out of range
        raise ValueError(f"invalid number: {text}")
    return number


def _to_int(text: str) -> int:
    return int(text, 10)


S = ("services", "*")
CASTS: list[tuple[tuple[str, ...], Callable[[str], Any]]] = [
    (S + ("cpu_count",), _to_int), (S + ("cpu_percent",), _to_float), (S + ("cpu_period",), _to_int),
    (S + ("cpu_quota",), _to_int), (S + ("cpu_rt_period",), _to_int), (S + ("cpu_rt_runtime",), _to_int),
    (S + ("cpus",), _to_float), (S + ("cpu_shares",), _to_int), (S + ("init",), _to_bool),
    (S + ("deploy", "replicas"), _to_int), (S + ("deploy", "update_config", "parallelism"), _to_int),
    (S + ("deploy", "update_config", "max_failure_ratio"), _to_float),
    (S + ("deploy", "rollback_config", "parallelism"), _to_int),
    (S + ("deploy", "rollback_config", "max_failure_ratio"), _to_float),
    (S + ("deploy", "restart_policy", "max_attempts"), _to_int),
    (S + ("deploy", "placement", "max_replicas_per_node"), _to_int),
    (S + ("healthcheck", "retries"), _to_int), (S + ("healthcheck", "disable"), _to_bool),
    (S + ("oom_kill_disable",), _to_bool), (S + ("oom_score_adj",), _to_int), (S + ("pids_limit",), _to_int),
    (S + ("ports", "[]", "target"), _to_int), (S + ("privileged",), _to_bool), (S + ("read_only",), _to_bool),
    (S + ("scale",), _to_int), (S + ("stdin_open",), _to_bool), (S + ("tty",), _to_bool),
    (S + ("ulimits", "*"), _to_int), (S + ("ulimits", "*", "hard"), _to_int), (S + ("ulimits", "*", "soft"), _to_int),
    (S + ("volumes", "[]", "read_only"), _to_bool), (S + ("volumes", "[]", "volume", "nocopy"), _to_bool),
    (("networks", "*", "external"), _to_bool), (("networks", "*", "internal"), _to_bool),
    (("networks", "*", "attachable"), _to_bool), (("networks", "*", "enable_ipv4"), _to_bool),
    (("networks", "*", "enable_ipv6"), _to_bool), (("volumes", "*", "external"), _to_bool),
    (("secrets", "*", "external"), _to_bool), (("configs", "*", "external"), _to_bool),
    # compose casts these when decoding the model, with the same rules
    (S + ("attach",), _to_bool), (S + ("build", "no_cache"), _to_bool), (S + ("build", "privileged"), _to_bool),
    (S + ("build", "pull"), _to_bool),
]


_CAST_TABLE = None


def _caster(path: tuple[str, ...]):
    global _CAST_TABLE
    if _CAST_TABLE is None:
        from stackup.stackfile.pathmatch import Table
        _CAST_TABLE = Table({".".join(pattern): cast for pattern, cast in CASTS})
    return _CAST_TABLE.lookup(path)


def interpolate(tree: Any, lookup: Lookup, on_error: Callable[[tuple, str], None],
                path: tuple[str, ...] = (), unset: list[str] | None = None) -> Any:
    """Substitute every string value of `tree` in place; problems go to `on_error(path, msg)`.

    All of the substitutions may add at most MAX_GROWTH characters to the tree.
    """
    try:
        return _interpolate(tree, lookup, on_error, path, unset, _Budget(MAX_GROWTH))
    except _Overgrown as exc:
        on_error(exc.path, too_large())
        return tree


class _Budget:
    def __init__(self, left: int):
        self.left = left


class _Overgrown(Exception):
    def __init__(self, path: tuple[str, ...]):
        self.path = path


def _interpolate(tree: Any, lookup: Lookup, on_error: Callable[[tuple, str], None],
                 path: tuple[str, ...], unset: list[str] | None, budget: _Budget) -> Any:
    if isinstance(tree, dict):
        for key in list(tree):
            tree[key] = _interpolate(tree[key], lookup, on_error, path + (key,), unset, budget)
        return tree
    if isinstance(tree, list):
        for index, item in enumerate(tree):
            tree[index] = _interpolate(item, lookup, on_error, path + (str(index),), unset, budget)
        return tree
    if isinstance(tree, str):
        try:
            value = substitute(tree, lookup, unset, limit=len(tree) + budget.left)
        except InterpolationError as exc:
            on_error(path, str(exc))
            return tree
        except TooLarge:
            raise _Overgrown(path) from None
        budget.left -= max(0, len(value) - len(tree))
        cast = _caster(path)
        if cast is not None:
            try:
                return cast(value)
            except ValueError:
                on_error(path, f"\"{value}\" is not a valid {_cast_name(cast)}")
                return value
        return value
    return tree


def _cast_name(cast) -> str:
    return {_to_bool: "boolean", _to_int: "integer", _to_float: "number"}[cast]
