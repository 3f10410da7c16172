"""Durations and byte sizes, parsed and printed as docker compose does (Go style)."""

from __future__ import annotations

import re

# Patterns are compiled on first use (re caches them): most stacks give no duration or size.
_DURATION_PART = r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)"
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(value: object) -> int:
    """Nanoseconds of `1m30s`, `1.5h`, `500ms` (Go's time.ParseDuration); ints are seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return int(value * 1_000_000_000)
    text = str(value).strip()
    if not text:
        raise ValueError("invalid duration '' (use a number and a unit: 10s, 1m30s, 500ms)")
    if text in ("0", "+0", "-0"):
        return 0
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not text:
        raise ValueError(f"invalid duration {value!r}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = re.compile(_DURATION_PART).match(text, pos)
        if not match or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {value!r} (use a number and a unit: 10s, 1m30s, 500ms)")
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    return sign * int(round(total))


def format_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _frac(rest, 1_000_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _frac(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


_BYTES = r"(?i)^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(i?b)?$"
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


def parse_bytes(value: object) -> int:
    """Bytes of `1g`, `512m`, `1.5k`, `100` (docker's RAMInBytes: powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    match = re.match(_BYTES, str(value).strip())
    if not match:
        raise ValueError(f"invalid size {value!r} (use a number and an optional unit: 512m, 1g)")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])
