"""`stats`: a container's resource usage as Docker shows it (the samples come from
the engine, through the adapter's `usage`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackup.engine.runtime.usage import Sample


def cpu_percent(before: Sample, after: Sample, seconds: float) -> float:
    """Percent of one CPU (Docker's way: 200% is two CPUs busy)."""
    if seconds <= 0:
        return 0.0
    return max(0.0, (after.cpu_ns - before.cpu_ns) / (seconds * 1e9) * 100.0)


def human(size: int) -> str:
    """Bytes as Docker shows them: 512B, 1.5KiB, 3.0MiB, 2.1GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f}{unit}" if unit != "B" else f"{size}B"
        value /= 1024
    return f"{value}"
