"""Compose's numbers as Kubernetes writes them: CPU in millicores (`500m`), memory in
binary units (`256Mi`), probe and grace periods in whole seconds."""

from __future__ import annotations

import math

from stackup.units import parse_bytes, parse_seconds

_BINARY = (("Ei", 1024 ** 6), ("Pi", 1024 ** 5), ("Ti", 1024 ** 4), ("Gi", 1024 ** 3), ("Mi", 1024 ** 2),
           ("Ki", 1024))


def cpu(value: object, where: str) -> str:
    """`0.5` -> `500m`, `2` -> `2` (whole cores stay whole)."""
    millis = round(float(str(value)) * 1000)
    if millis <= 0:
        raise ValueError(f"{where}: cpus must be positive")
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory(value: object, where: str) -> str:
    """Bytes in the largest binary unit that divides them exactly (`268435456` -> `256Mi`)."""
    size = parse_bytes(value, where)
    for suffix, unit in _BINARY:
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def seconds(value: object, where: str, minimum: int = 0) -> int:
    """A duration in whole seconds, rounded up (probes count in seconds, at least 1 for periods)."""
    return max(minimum, math.ceil(parse_seconds(value, where)))
