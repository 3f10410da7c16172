"""Healthchecks of service containers: run the probe, keep the status, wait for a verdict.

A container's healthcheck (Docker's form, from the stack file or the image: Test
`CMD`/`CMD-SHELL`/`NONE`, Interval, Timeout, Retries, StartPeriod, StartInterval) is
probed with `exec` inside the container. The status (`starting`, `healthy`,
`unhealthy`) and the last probes are kept in `$STACKUP_ROOT/health/<id>.json`, so
`ps` shows what the last check saw. Docker's rules: a failure during the start
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


def read_status(container_id: str) -> str | None:
    data = st.read_json(health_path(container_id), None) or {}
    return data.get("status")


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
        st.atomic_write_json(health_path(self.container_id), {
            "status": self.status, "failing_streak": self.failures,
            "last": {"exit_code": code, "output": output[-1000:], "at": time.time()}})


def wait_healthy(runtime: Any, container_id: str, check: Check, timeout: float | None,
                 is_running) -> None:
    """Probe until healthy (return) or unhealthy, exited or timed out (raise)."""
    monitor = Monitor(runtime, container_id, check)
    st.atomic_write_json(health_path(container_id), {"status": STARTING, "failing_streak": 0})
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        # Docker probes first after one interval (start_interval in the start period)
        delay = monitor.next_delay()
        if deadline is not None and time.monotonic() + delay > deadline:
            raise StackupError(f"did not become healthy within {timeout:g}s")
        time.sleep(delay)
        if not is_running():
            raise StackupError("exited before it became healthy")
        status = monitor.step()
        if status == HEALTHY:
            return
        if status == UNHEALTHY:
            detail = f": {monitor.last_output}" if monitor.last_output else ""
            raise StackupError(f"is unhealthy{detail}")
