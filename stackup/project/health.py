"""Healthchecks of service containers: the current run's verdict, and waiting for it.

The runtime runs a container's healthcheck (its shim probes every interval and
records `health` in the container's state: status `starting`/`healthy`/`unhealthy`,
failing streak, the last probes); `Runtime.check_health` probes at once. The check
comes from the stack file over the image's (`containerspec.merge_healthcheck`), in
Docker's form, which the engine's `Check` reads (its timing, its argv).
`depends_on: service_healthy` and `up --wait` probe through that hook at the
check's own pace (start_interval within the start period, which the shim does not
know) and read the verdict; `ps` shows it for the current run only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stackup.engine.runtime.containerstate import ContainerState, HealthStatus, Status
from stackup.engine.runtime.healthcheck import Check
from stackup.errors import StackupError, UnsupportedError

if TYPE_CHECKING:
    from stackup.engine.runtime.container import Runtime

__all__ = ["Check", "current_status", "wait_healthy"]
STARTING, HEALTHY, UNHEALTHY = HealthStatus.STARTING, HealthStatus.HEALTHY, HealthStatus.UNHEALTHY


def current_status(state: ContainerState) -> dict[str, Any]:
    """The health the runtime recorded for the container's current run ({} when it
    has recorded nothing since the run started): status, failing_streak, last probe."""
    health = state.health or {}
    log = health.get("log") or []
    if not log or str(log[-1].get("start", "")) < state.started_at:
        return {}
    return {"status": health.get("status"), "failing_streak": health.get("failing_streak", 0),
            "last": {"exit_code": log[-1].get("exit_code"), "output": log[-1].get("output", "")}}


def wait_healthy(runtime: Runtime, container_id: str, check: Check, timeout: float | None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
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
        if state.status is Status.RUNNING and (clock() >= next_probe or stale):
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
        if not state.status.is_up_or_starting():
            raise StackupError(f"exited (code {state.exit_code}) before it became healthy")
        if deadline is not None and clock() > deadline:
            raise StackupError(f"did not become healthy within {timeout:g}s")
        sleep(max(0.0, min(0.05, next_probe - clock())))
