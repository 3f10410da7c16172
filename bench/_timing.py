"""Shared by the benches that time a Python call (bench/_peers.py times commands)."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call of `fn`."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
