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

from stackup.stackfile import textfile
from stackup.stackfile.interpolation import MAX_GROWTH, InterpolationError, TooLarge, substitute, too_large

_EXPORT = re.compile(r"export\s+")
_WHITESPACE = re.compile(r"\s*")
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
    # The text is read by advancing an index, never by slicing off what was read: slicing made
    # a file of n lines cost n² (a 3 MB file took minutes).
    line, pos = 1, 0
    room = len(text) + MAX_GROWTH  # for all the values: substitution may add MAX_GROWTH at most
    while True:
        spaces = _WHITESPACE.match(text, pos)
        start, pos = pos, spaces.end() if spaces else pos
        line += text.count("\n", start, pos)
        if pos == len(text):
            break
        if text[pos] == "#":
            pos = text.find("\n", pos)
            if pos < 0:
                break
            continue
        if _EXPORT.match(text, pos):
            pos = _skip(text, pos + len("export"), _SPACE)
        key, pos, inherited = _key(text, pos, line)
        if " " in key:
            raise EnvFileError(f"line {line}: key cannot contain a space")
        if inherited:
            value = outer(key)
            if value is not None:
                out[key] = value
            line += 1
            continue
        value, pos, line = _value(text, pos, line, resolve, room)
        room -= len(value)
        out[key] = value
    return out


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _line_at(text: str, pos: int) -> str:
    end = text.find("\n", pos)
    return text[pos:] if end < 0 else text[pos:end]


def _key(text: str, pos: int, line: int) -> tuple[str, int, bool]:
    """The key at `pos`, where its value starts, and whether it has none (inherited)."""
    for i in range(pos, len(text)):
        char = text[i]
        if char in _SPACE:
            continue
        if char in "=:\n":
            return text[pos:i].rstrip(), _skip(text, i + 1, _SPACE), char == "\n"
        if char in "_.-[]" or char.isalnum():
            continue
        raise EnvFileError(f"line {line}: unexpected character {char!r} in variable name {_line_at(text, pos)!r}")
    return text[pos:].rstrip(), len(text), True


def _value(text: str, pos: int, line: int, resolve, room: int) -> tuple[str, int, int]:
    """The value at `pos`, where the text goes on after it, and the line it goes on at."""
    if pos == len(text) or text[pos] not in "'\"":
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        value = text[pos:end].split(" #", 1)[0].rstrip()
        return _expand(value, resolve, line, room), min(end + 1, len(text)), line + 1
    quote = text[pos]
    chars: list[str] = []
    escaped = False
    for i in range(pos + 1, len(text)):
        char = text[i]
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
            value = _expand(_expand_escapes(value), resolve, line, room)
        return value, i + 1, line
    raise EnvFileError(f"line {line}: unterminated quoted value {_line_at(text, pos)}")


def _expand(value: str, resolve, line: int, room: int) -> str:
    try:
        return substitute(value, resolve, limit=room)
    except InterpolationError as exc:
        raise EnvFileError(f"line {line}: {exc}") from None
    except TooLarge:
        raise EnvFileError(f"line {line}: {too_large()}") from None


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
