"""`stats`: a container's resource usage as Docker shows it (the samples come from
the engine, through the adapter's `usage`), in the units and precision of Docker's
go-units (BytesSize for memory, HumanSizeWithPrecision for network and block I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackup.engine.runtime.usage import Sample


def cpu_percent(before: Sample, after: Sample, seconds: float) -> float:
    """Percent of one CPU (Docker's way: 200% is two CPUs busy)."""
    if seconds <= 0:
        return 0.0
    return max(0.0, (after.cpu_ns - before.cpu_ns) / (seconds * 1e9) * 100.0)


def _custom_size(size: float, base: float, units: tuple[str, ...], digits: int) -> str:
    """go-units' CustomSize: divide while at least `base`, then `digits` significant."""
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return f"{size:.{digits}g}{units[i]}"


def human(size: int) -> str:
    """Bytes as Docker shows memory: 316KiB, 1.5MiB, 23.54GiB (go-units BytesSize)."""
    return _custom_size(float(size), 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"), 4)


def decimal(size: int) -> str:
    """Bytes as Docker shows I/O: 872B, 1.57kB (go-units HumanSizeWithPrecision, 3)."""
    return _custom_size(float(size), 1000.0, ("B", "kB", "MB", "GB", "TB", "PB"), 3)


def row(name: str, container_id: str, before: Sample, after: Sample, seconds: float,
        host_memory: int) -> dict[str, str]:
    """One line of `stats --format json`, with compose's fields (the limit of a container
    without one is the host's memory, as Docker reports it)."""
    limit = after.memory_limit or host_memory
    return {"BlockIO": f"{decimal(after.block_read)} / {decimal(after.block_write)}",
            "CPUPerc": f"{cpu_percent(before, after, seconds):.2f}%",
            "Container": container_id, "ID": container_id[:12],
            "MemPerc": f"{(after.memory / limit * 100 if limit else 0.0):.2f}%",
            "MemUsage": f"{human(after.memory)} / {human(limit)}", "Name": name,
            "NetIO": f"{decimal(after.net_rx)} / {decimal(after.net_tx)}", "PIDs": str(after.pids)}
