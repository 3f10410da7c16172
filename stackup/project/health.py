"""Healthchecks of service containers: the check's timing, the current run's
verdict, and waiting for it.

The runtime runs a container's healthcheck (its shim probes every interval and
records `health` in the container's state: status `starting`/`healthy`/`unhealthy`,
failing streak, the last probes); `Runtime.check_health` probes at once. The check
comes from the stack file over the image's (`containerspec.merge_healthcheck`:
Test `CMD`/`CMD-SHELL`/`NONE`, Interval, Timeout, Retries, StartPeriod,
StartInterval). `depends_on: service_healthy` and `up --wait` probe through that
hook at the check's own pace (start_interval within the start period, which the
shim does not know) and read the verdict; `ps` shows it for the current run only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from stackup.engine.runtime.containerstate import HealthStatus, Status
from stackup.errors import StackupError, UnsupportedError

NS = 1_000_000_000
STARTING, HEALTHY, UNHEALTHY = HealthStatus.STARTING, HealthStatus.HEALTHY, HealthStatus.UNHEALTHY


@dataclass(frozen=True)
class Check:
    test: list[str]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0

    @classmethod
    def from_docker(cls, check: dict[str, Any] | None) -> Check | None:
        """None when there is no healthcheck or it is NONE."""
        test = list((check or {}).get("Test") or [])
        if not test or test[0] == "NONE":
            return None

        def seconds(key: str, default: float) -> float:
            value = (check or {}).get(key)
            return value / NS if value else default

        return cls(test=test, interval=seconds("Interval", 30.0), timeout=seconds("Timeout", 30.0),
                   retries=int((check or {}).get("Retries") or 3), start_period=seconds("StartPeriod", 0.0),
                   start_interval=seconds("StartInterval", 5.0))

    def argv(self) -> list[str]:
        if self.test[0] == "CMD":
            return self.test[1:]
        if self.test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(self.test[1:])]
        return list(self.test)  # a bare list is an exec form too

    def delay(self, elapsed: float, passed_once: bool) -> float:
        """Seconds until the next probe, `elapsed` seconds into the run: Docker probes
        every start_interval within the start period (until a first success), then
        every interval."""
        return self.start_interval if elapsed < self.start_period and not passed_once else self.interval


def current_status(state: dict[str, Any]) -> dict[str, Any]:
    """The health the runtime recorded for the container's current run ({} when it
    has recorded nothing since the run started): status, failing_streak, last probe."""
    health = state.get("health") or {}
    log = health.get("log") or []
    if not log or str(log[-1].get("start", "")) < str(state.get("started_at", "")):
        return {}
    return {"status": health.get("status"), "failing_streak": health.get("failing_streak", 0),
            "last": {"exit_code": log[-1].get("exit_code"), "output": log[-1].get("output", "")}}


def wait_healthy(runtime: Any, container_id: str, check: Check, timeout: float | None,
                 sleep=time.sleep, clock=time.monotonic) -> None:
    """Probe through the runtime's hook at the check's pace until the current run is
    healthy (return), or unhealthy, gone, exited or out of time (raise)."""
    from stackup.errors import NotFoundError

    if not hasattr(runtime, "check_health"):
        raise UnsupportedError("this build's container runtime does not run healthchecks")
    started = clock()
    deadline = None if timeout is None else started + timeout
    passed_once = probed = False
    next_probe = started + check.delay(0.0, False)   # Docker probes first after one interval
    while True:
        try:
            state = runtime.get(container_id)
        except NotFoundError:
            raise StackupError("was removed before it became healthy") from None
        record = current_status(state)
        # an "unhealthy" from before this wait is checked again at once: the
        # container may have recovered since its last probe
        stale = record.get("status") == UNHEALTHY and not probed
        if Status(state["status"]) is Status.RUNNING and (clock() >= next_probe or stale):
            runtime.check_health(container_id)
            probed = True
            state = runtime.get(container_id)
            next_probe = clock() + check.delay(clock() - started, passed_once)
            record = current_status(state)
        if record.get("status") == HEALTHY:
            return
        if record.get("status") == UNHEALTHY:
            output = ((record.get("last") or {}).get("output") or "").strip()
            raise StackupError("is unhealthy" + (f": {output}" if output else ""))
        if not Status(state["status"]).is_up_or_starting():
            raise StackupError(f"exited (code {state.get('exit_code')}) before it became healthy")
        if deadline is not None and clock() > deadline:
            raise StackupError(f"did not become healthy within {timeout:g}s")
        sleep(max(0.0, min(0.05, next_probe - clock())))
