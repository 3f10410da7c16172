"""Healthchecks of service containers: run the probe, keep the status, wait for a verdict.

A container's healthcheck (Docker's form, from the stack file or the image: Test
`CMD`/`CMD-SHELL`/`NONE`, Interval, Timeout, Retries, StartPeriod, StartInterval) is
probed with `exec` inside the container by a small detached monitor process
(`python -m stackup.project.healthmon <id>`) started with the container; it lives as
long as that run of the container. The status (`starting`, `healthy`, `unhealthy`)
and the last probe are kept in `$STACKUP_ROOT/health/<id>.json` (tagged with the
run's start time), which `ps` shows and `depends_on: service_healthy` waits for. Docker's rules: a failure during the start
period does not count (unless the check already passed once), `Retries` failures in
a row make the container unhealthy, a success makes it healthy.
"""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackup.engine import state as st
from stackup.errors import StackupError

NS = 1_000_000_000
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


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
                   retries=int(check.get("Retries") or 3), start_period=seconds("StartPeriod", 0.0),
                   start_interval=seconds("StartInterval", 5.0))

    def argv(self) -> list[str]:
        if self.test[0] == "CMD":
            return self.test[1:]
        if self.test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(self.test[1:])]
        return list(self.test)  # a bare list is an exec form too


def health_path(container_id: str) -> Path:
    return st.root() / "health" / f"{container_id}.json"


def forget(container_id: str) -> None:
    try:
        health_path(container_id).unlink()
    except FileNotFoundError:
        pass


def probe(runtime: Any, container_id: str, check: Check) -> tuple[int, str]:
    """Run the check once in the container: (exit code, output). A probe that outlives
    its timeout counts as a failure (-1)."""
    from stackup.engine.runtime.exec import exec_in

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its stdout/stderr go to the pipe
        try:
            os.close(read_fd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            os._exit(exec_in(runtime, container_id, check.argv()) & 0xFF)
        except BaseException as exc:  # noqa: BLE001 - the child must never return
            try:
                os.write(2, f"{exc}\n".encode())
            finally:
                os._exit(126)
    os.close(write_fd)
    output = b""
    deadline = time.monotonic() + check.timeout
    code = -1
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                output += b"\nhealthcheck timed out"
                break
            ready, _, _ = select.select([read_fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(read_fd, 4096)
                if not chunk:
                    break
                output = (output + chunk)[-4096:]
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and not output.endswith(b"healthcheck timed out"):
        code = os.WEXITSTATUS(status)
    return code, output.decode(errors="replace").strip()


class Monitor:
    """Probes one container by the check's timing and records its status."""

    def __init__(self, runtime: Any, container_id: str, check: Check, started: float | None = None):
        self.runtime = runtime
        self.container_id = container_id
        self.check = check
        self.started = time.monotonic() if started is None else started
        self.failures = 0
        self.passed_once = False
        self.status = STARTING
        self.last_output = ""

    def step(self) -> str:
        code, output = probe(self.runtime, self.container_id, self.check)
        self.last_output = output
        in_start_period = time.monotonic() - self.started < self.check.start_period
        if code == 0:
            self.failures, self.passed_once, self.status = 0, True, HEALTHY
        elif not (in_start_period and not self.passed_once):
            self.failures += 1
            if self.failures >= self.check.retries:
                self.status = UNHEALTHY
        self.record(code, output)
        return self.status

    def next_delay(self) -> float:
        in_start_period = time.monotonic() - self.started < self.check.start_period
        return self.check.start_interval if in_start_period and not self.passed_once else self.check.interval

    def record(self, code: int, output: str) -> None:
        data = st.read_json(health_path(self.container_id), None) or {}
        data.update({"status": self.status, "failing_streak": self.failures,
                     "last": {"exit_code": code, "output": output[-1000:], "at": time.time()}})
        st.atomic_write_json(health_path(self.container_id), data)


def run_monitor(runtime: Any, container_id: str, poll: float = 0.25) -> int:
    """The body of the health monitor process: probe the container by its check's
    timing for as long as it runs (a restart by its policy starts the count over),
    recording every verdict. Exits when the container stops or is removed (checking
    at least every `poll` seconds)."""
    from stackup.errors import NotFoundError

    def state() -> dict[str, Any] | None:
        try:
            return runtime.get(container_id)
        except NotFoundError:
            return None

    current = state()
    check = Check.from_docker(((current or {}).get("spec") or {}).get("healthcheck"))
    if current is None or check is None:
        return 0
    started_at = ""
    monitor = Monitor(runtime, container_id, check)
    while True:
        if current.get("started_at", "") != started_at:
            # a new run (a restart by its policy): start over, as Docker does
            started_at = current.get("started_at", "")
            monitor = Monitor(runtime, container_id, check)
            st.atomic_write_json(health_path(container_id), {"status": STARTING, "failing_streak": 0,
                                                             "started_at": started_at, "monitor": os.getpid()})
        wake = time.monotonic() + monitor.next_delay()
        while time.monotonic() < wake:
            time.sleep(min(poll, max(0.0, wake - time.monotonic())))
            current = state()
            if current is None or current["status"] not in ("running", "restarting", "paused"):
                return 0
            if current.get("started_at", "") != started_at:
                break
        if current["status"] == "running" and current.get("started_at", "") == started_at:
            monitor.step()


def start_monitor(container_id: str) -> None:
    """Start the detached health monitor of a container that has just started."""
    import subprocess
    import sys

    env = dict(os.environ, STACKUP_ROOT=str(st.root()))
    subprocess.Popen([sys.executable, "-m", "stackup.project.healthmon", container_id],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, env=env, close_fds=True)


def runtime_runs_checks(runtime: Any) -> bool:
    """Does this runtime run healthchecks itself (its shim probes, `check_health` is
    the hook to probe at once)? Then no monitor process is needed."""
    return hasattr(runtime, "check_health")


def current_status(container_id: str, started_at: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recorded health of the container's current run ({} when nothing is recorded
    for this run yet): the runtime's own record when it keeps one, else the monitor's."""
    if state is not None and state.get("health"):
        health = state["health"]
        log = health.get("log") or []
        if log and str(log[-1].get("start", "")) >= started_at:
            last = log[-1]
            return {"status": health.get("status"), "failing_streak": health.get("failing_streak", 0),
                    "last": {"exit_code": last.get("exit_code"), "output": last.get("output", "")}}
        return {}
    data = st.read_json(health_path(container_id), None) or {}
    return data if data.get("started_at") == started_at else {}


def wait_healthy(runtime: Any, container_id: str, timeout: float | None, check: Check | None = None) -> None:
    """Wait for a verdict on the current run: return once healthy, raise when
    unhealthy, exited or timed out. With a runtime that runs checks itself, probe
    through its hook at the check's pace (its shim alone would wait a whole interval,
    start_interval unknown to it); else read what the monitor records."""
    from stackup.errors import NotFoundError

    deadline = None if timeout is None else time.monotonic() + timeout
    probing = check is not None and runtime_runs_checks(runtime)
    started = time.monotonic()
    # Docker probes first after one interval (start_interval within the start period)
    next_probe = started + (check.start_interval if check.start_period else check.interval) if probing else 0.0
    passed_once = False
    while True:
        try:
            state = runtime.get(container_id)
        except NotFoundError:
            raise StackupError("was removed before it became healthy") from None
        if probing and state["status"] == "running" and time.monotonic() >= next_probe:
            runtime.check_health(container_id)
            state = runtime.get(container_id)
            in_start = time.monotonic() - started < check.start_period and not passed_once
            next_probe = time.monotonic() + (check.start_interval if in_start else check.interval)
        record = current_status(container_id, state.get("started_at", ""), state)
        if record.get("status") == HEALTHY:
            return
        if record.get("status") == UNHEALTHY:
            output = ((record.get("last") or {}).get("output") or "").strip()
            raise StackupError("is unhealthy" + (f": {output}" if output else ""))
        if state["status"] not in ("running", "restarting", "paused", "starting"):
            raise StackupError(f"exited (code {state.get('exit_code')}) before it became healthy")
        if deadline is not None and time.monotonic() > deadline:
            raise StackupError(f"did not become healthy within {timeout:g}s")
        time.sleep(0.05 if probing else 0.1)
