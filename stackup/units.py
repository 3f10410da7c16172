"""Durations and byte sizes, parsed and printed as Docker and compose do (Go's forms).

Every layer reads them here: the stack file (`1m30s`, `512m`), the engine's flags
(`--memory 1g`, `--tmpfs /t:size=64m`) and image configs (`HEALTHCHECK --interval=30s`).
A value that is not one raises `UnitError`, a `UserError` (for the engine and the CLI)
that is also a `ValueError` (for the stack file's checks): "invalid <what> <value> (hint)",
`what` being "size", "duration" or the flag's name, after `where` when one is given.
"""

from __future__ import annotations

import re

from stackup.errors import UserError

NS_PER_SECOND = 1_000_000_000
# Patterns are compiled on first use (re caches them): most commands read no duration or size.
_DURATION_PART = r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)"
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": NS_PER_SECOND,
            "m": 60 * NS_PER_SECOND, "h": 3600 * NS_PER_SECOND}
_MAX_NS = (1 << 63) - 1  # Go's time.Duration is an int64
_DURATION_HINT = "(use a number and a unit: 10s, 1m30s, 500ms)"

_BYTES = r"(?i)^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(i?b)?$"
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


class UnitError(UserError, ValueError):
    """A duration or a size that is not one."""


def _fail(where: str, problem: str) -> UnitError:
    return UnitError(f"{where}: {problem}" if where else problem)


def parse_duration(value: object, where: str = "") -> int:
    """Nanoseconds of `1m30s`, `1.5h`, `-500ms` (Go's time.ParseDuration); numbers are seconds."""
    if isinstance(value, bool):
        raise _fail(where, f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return int(value * NS_PER_SECOND)
    text = str(value).strip()
    if not text:
        raise _fail(where, f"invalid duration '' {_DURATION_HINT}")
    if text in ("0", "+0", "-0"):
        return 0
    sign = -1 if text[0] == "-" else 1
    body = text[1:] if text[0] in "+-" else text
    if not body:
        raise _fail(where, f"invalid duration {value!r}")
    total = pos = 0
    while pos < len(body):
        match = re.compile(_DURATION_PART).match(body, pos)
        if not match or not (match.group(1) or match.group(2)):
            raise _fail(where, f"invalid duration {value!r} {_DURATION_HINT}")
        whole, fraction, unit = match.group(1), match.group(2) or "", _UNIT_NS[match.group(3)]
        # integers throughout, so that every printed duration reads back exactly (as in Go)
        total += int(whole or "0") * unit + int(fraction or "0") * unit // 10 ** len(fraction)
        pos = match.end()
    if total > _MAX_NS:
        raise _fail(where, f"invalid duration {value!r} (too long)")
    return sign * total


def parse_seconds(value: object, where: str = "") -> float:
    """Seconds of a duration (`parse_duration`'s forms)."""
    return parse_duration(value, where) / NS_PER_SECOND


def format_duration(ns: int) -> str:
    """Go's time.Duration.String(): `1m30s`, `1.5s`, `500ms`, `0s`."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < NS_PER_SECOND:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3600 * NS_PER_SECOND)
    minutes, rest = divmod(rest, 60 * NS_PER_SECOND)
    seconds = _fraction(rest, NS_PER_SECOND)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _fraction(value: int, size: int) -> str:
    whole, fraction = divmod(value, size)
    if not fraction:
        return str(whole)
    digits = str(fraction).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def parse_bytes(value: object, where: str = "", what: str = "size") -> int:
    """Bytes of `1g`, `512m`, `1.5k`, `2MiB`, `100` (Docker's RAMInBytes: powers of 1024)."""
    if isinstance(value, bool):
        raise _fail(where, f"invalid {what} {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    match = re.match(_BYTES, str(value).strip())
    if not match:
        raise _fail(where, f"invalid {what} {value!r} (use a number and an optional unit: 512m, 1g)")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])
