"""A container's healthcheck, read into its one normal form.

The engine keeps a healthcheck in Docker's image-config form (`Test`, `Interval`,
`Timeout`, `StartPeriod`, `StartInterval` in nanoseconds, `Retries`): images carry it
so, and the project layer writes the stack file's `healthcheck:` so (merged over the
image's). `Check.from_docker` reads it into what the runtime, its shim and an
orchestrator use: the probe's argv and its timing in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackup.errors import UserError
from stackup.units import NS_PER_SECOND, parse_duration

# Docker's field -> (attribute, default when unset or 0, as Docker reads 0)
_TIMES = {"interval": ("interval", 30.0), "timeout": ("timeout", 30.0),
          "startperiod": ("start_period", 0.0), "startinterval": ("start_interval", 5.0)}


@dataclass(frozen=True)
class Check:
    test: list[str]             # ["CMD", argv...] or ["CMD-SHELL", script]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0

    @classmethod
    def from_docker(cls, check: Mapping[str, Any] | None) -> Check | None:
        """The check of Docker's form; None when there is none or it is `NONE`.

        Field names match whatever their case (Go's JSON decoder reads image configs so);
        a time is nanoseconds, or a Go duration such as `30s`."""
        fields = {str(key).lower(): value for key, value in (check or {}).items()}
        test = fields.get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        if not test or test[0] == "NONE":
            return None
        if test[0] not in ("CMD", "CMD-SHELL"):
            raise UserError(f"invalid healthcheck test {test!r}: expected CMD, CMD-SHELL or NONE")
        times = {attr: _seconds(fields.get(key), key, default) for key, (attr, default) in _TIMES.items()}
        return cls(test=list(test), retries=int(fields.get("retries") or 3), **times)

    def argv(self) -> list[str]:
        if self.test[0] == "CMD":
            return list(self.test[1:])
        return ["/bin/sh", "-c", " ".join(self.test[1:])]

    def delay(self, elapsed: float, passed_once: bool) -> float:
        """Seconds until the next probe, `elapsed` seconds into the run: Docker probes
        every start_interval within the start period (until a first success), then
        every interval."""
        return self.start_interval if elapsed < self.start_period and not passed_once else self.interval


def _seconds(value: Any, key: str, default: float) -> float:
    if value in (None, 0, ""):
        return default
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ns = value if is_number else parse_duration(str(value), f"healthcheck {key}")
    if ns < 0:
        raise UserError(f"healthcheck {key}: {value!r} must not be negative")
    return ns / NS_PER_SECOND
