"""`.env` and `env_file` parsing, as compose's dotenv parser reads them.

`KEY=value`, `KEY: value`, `export KEY=value`, `KEY` alone (inherited from the
environment when set there), single quotes (literal), double quotes (escapes and
variables), unquoted values (variables, ` #` starts a comment), `${VAR}` substitution
against the environment first and the file's earlier keys second.
"""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Callable

from stackup.spec import textfile
from stackup.spec.interpolation import InterpolationError, substitute

_EXPORT = re.compile(r"^export\s+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0\d{0,3})')
_SPACE = "\t\v\f\r \x85\xa0"
_ESCAPES = {"a": "\a", "b": "\b", "c": "\\c", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            '"': '"', "\\": "\\"}


class EnvFileError(Exception):
    """A line the parser cannot read (the message names the line)."""


def _expand_escapes(text: str) -> str:
    def one(match: re.Match) -> str:
        seq = match.group()
        if seq == "\\$":
            return "$$"
        if seq.startswith("\\0"):
            digits = seq[2:]
            return chr(int(digits, 8)) if digits else "\0"
        return _ESCAPES.get(seq[1], seq)
    return _ESCAPE.sub(one, text)


def parse(text: str, lookup: Callable[[str], str | None] | None = None) -> dict[str, str]:
    """The variables a dotenv text defines; `lookup` gives the outer environment."""
    out: dict[str, str] = {}
    outer = lookup or (lambda _name: None)

    def resolve(name: str) -> str | None:
        value = outer(name)
        return value if value is not None else out.get(name)

    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    line = 1
    rest = text
    while True:
        stripped = rest.lstrip()
        line += rest[: len(rest) - len(stripped)].count("\n")
        rest = stripped
        if not rest:
            break
        if rest[0] == "#":
            newline = rest.find("\n")
            if newline < 0:
                break
            rest = rest[newline:]
            continue
        if _EXPORT.match(rest):
            rest = rest[len("export"):].lstrip(_SPACE)
        key, rest, inherited = _key(rest, line)
        if " " in key:
            raise EnvFileError(f"line {line}: key cannot contain a space")
        if inherited:
            value = outer(key)
            if value is not None:
                out[key] = value
            line += 1
            continue
        value, rest, line = _value(rest, line, resolve)
        out[key] = value
    return out


def _key(src: str, line: int) -> tuple[str, str, bool]:
    for i, char in enumerate(src):
        if char in _SPACE:
            continue
        if char in "=:\n":
            key = src[:i].rstrip()
            return key, src[i + 1:].lstrip(_SPACE), char == "\n"
        if char in "_.-[]" or char.isalnum():
            continue
        first_line = src.split("\n", 1)[0]
        raise EnvFileError(f"line {line}: unexpected character {char!r} in variable name {first_line!r}")
    return src.rstrip(), "", True


def _value(src: str, line: int, resolve) -> tuple[str, str, int]:
    if not src or src[0] not in "'\"":
        value, _, rest = src.partition("\n")
        value = value.split(" #", 1)[0].rstrip()
        return _expand(value, resolve, line), rest, line + 1
    quote = src[0]
    chars: list[str] = []
    escaped = False
    for i in range(1, len(src)):
        char = src[i]
        if char == "\n":
            line += 1
        if char != quote:
            if not escaped and char == "\\":
                escaped = True
                continue
            if escaped:
                escaped = False
                chars.append("\\")
            chars.append(char)
            continue
        if escaped:
            escaped = False
            chars.append(char)
            continue
        value = "".join(chars)
        if quote == '"':
            value = _expand(_expand_escapes(value), resolve, line)
        return value, src[i + 1:], line
    raise EnvFileError(f"line {line}: unterminated quoted value {src.split(chr(10), 1)[0]}")


def _expand(value: str, resolve, line: int) -> str:
    try:
        return substitute(value, resolve)
    except InterpolationError as exc:
        raise EnvFileError(f"line {line}: {exc}") from None


def read_files(paths: list[Path], environ: dict[str, str]) -> dict[str, str]:
    """Variables of several env files in order; later files see earlier ones."""
    out: dict[str, str] = {}
    for path in paths:
        try:
            text = textfile.read_text(path)
        except textfile.NotText as exc:
            raise EnvFileError(str(exc)) from None
        except FileNotFoundError:
            raise EnvFileError(f"couldn't find env file: {path}") from None
        except IsADirectoryError:
            raise EnvFileError(f"{path} is a directory") from None
        except OSError as exc:
            raise EnvFileError(f"cannot read env file {path}: {exc.strerror}") from None
        try:
            values = parse(text, lambda k: environ.get(k, out.get(k)))
        except EnvFileError as exc:
            raise EnvFileError(f"failed to read {path}: {exc}") from None
        out.update(values)
    return out
