"""Healthchecks: run the container's test inside it and record the result in its state.

Docker's semantics (the check's normal form: `healthcheck.Check`): the test is
`["CMD", argv...]` or `["CMD-SHELL", "script"]`; each check must finish within
`timeout`; `retries` consecutive failures make the container unhealthy; failures within
`start_period` do not count. The shim runs `run_check` every `interval` in a forked
child (so none of this is loaded in the shim); the orchestrator may also call
`run_check` itself when it wants an answer at once.
"""

from __future__ import annotations

import os
import select
import signal
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from stackup.engine.runtime.containerstate import (
    DamagedState,
    HealthRecord,
    HealthStatus,
    StateStore,
    Status,
)
from stackup.engine.runtime.healthcheck import Check
from stackup.errors import UserError

if TYPE_CHECKING:
    from stackup.engine.runtime.container import Runtime

LOG_KEEP = 5
OUTPUT_MAX = 4096


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def run_check(runtime: Runtime, ref: str) -> HealthRecord:
    """Run the test once, record the result, return the container's health."""
    from stackup.engine.runtime.exec import exec_in

    state = runtime.state(ref)
    hc = Check.from_docker(state.spec.get("healthcheck"))
    if hc is None:
        raise UserError(f"container {state.name} has no healthcheck")
    if state.status is not Status.RUNNING:
        return state.health or {}
    started = _now()
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(w, 1)
            os.dup2(w, 2)
            code = exec_in(runtime, state.id, hc.argv())
        except BaseException:  # noqa: BLE001 - reported as a failed check
            code = 1
        os._exit(code)
    os.close(w)
    code, output = _collect(child, r, hc.timeout)
    return _record(runtime.state_files, state.id, hc, started, code, output)


def _collect(child: int, fd: int, timeout: float) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    output = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                return -1, f"Health check exceeded timeout ({timeout:g}s)"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                output += chunk[: max(0, OUTPUT_MAX - len(output))]
        _, status = os.waitpid(child, 0)
        return os.waitstatus_to_exitcode(status), output.decode(errors="replace")
    finally:
        os.close(fd)


def _record(states: StateStore, cid: str, hc: Check, started: str, code: int,
            output: str) -> HealthRecord:
    try:
        with states.locked(cid):
            return _record_locked(states, cid, hc, started, code, output)
    except (FileNotFoundError, DamagedState):  # gone, or for the next command to repair
        return {}


def _record_locked(states: StateStore, cid: str, hc: Check, started: str, code: int,
                   output: str) -> HealthRecord:
    state = states.read(cid)
    if state is None:
        return {}
    health: HealthRecord = (state.health.copy() if state.health else
                            {"status": HealthStatus.STARTING.value, "failing_streak": 0, "log": []})
    health["log"] = (health.get("log", []) + [{"start": started, "end": _now(),
                                              "exit_code": code, "output": output}]
                     )[-LOG_KEEP:]
    if code == 0:
        health.update({"status": HealthStatus.HEALTHY.value, "failing_streak": 0})
    else:
        in_grace = _age(state.started_at) < hc.start_period
        if not in_grace:
            health["failing_streak"] = health.get("failing_streak", 0) + 1
            if health["failing_streak"] >= hc.retries:
                health["status"] = HealthStatus.UNHEALTHY.value
    states.write(state.replace(health=health))
    return health


def _age(started_at: str) -> float:
    try:
        start = datetime.fromisoformat(started_at.replace("Z", "+00:00")[:26] + "+00:00"
                                       if started_at.endswith("Z") else started_at)
    except ValueError:
        return float("inf")
    return (datetime.now(timezone.utc) - start).total_seconds()


def shim_tick(cdir: str) -> None:
    """Entry for the shim's forked child: one check of the container in `cdir`."""
    from pathlib import Path

    from stackup.engine.runtime.container import Runtime

    path = Path(cdir)
    try:
        run_check(Runtime(path.parent.parent), path.name)
    finally:
        os._exit(0)
