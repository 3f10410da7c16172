"""A container's recorded state, typed: its `Status` and what each status allows, the
`ContainerState` record, and `StateStore`, the one reader and writer of the state files
under a containers directory (the runtime and the healthcheck use it; the shim, which
must stay small, uses `statefile` beneath it directly).

Modelled on runc's `Status` and youki's `container/state.rs`: the status says which
operations are allowed (`can_start`, `can_stop`, ...), so callers ask it rather than
compare words. The record's fields are the file's keys (see statefile for the format).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from stackup.engine.runtime import statefile
from stackup.engine.runtime.statefile import DamagedState

if TYPE_CHECKING:
    from stackup.engine.runtime.spec import ContainerSpec

__all__ = ["ContainerState", "DamagedState", "HealthProbe", "HealthRecord", "HealthStatus",
           "StateStore", "Status"]


class Status(StrEnum):
    """Where a container is in its lifecycle (the words of the state file and of Docker)."""

    CREATING = statefile.CREATING      # being made: its directory and cgroup, by `create`
    CREATED = statefile.CREATED
    STARTING = statefile.STARTING      # `start` is launching PID 1 and the shim
    RUNNING = statefile.RUNNING
    PAUSED = statefile.PAUSED          # frozen in its cgroup
    RESTARTING = statefile.RESTARTING  # exited; the shim starts it again after a back-off
    EXITED = statefile.EXITED

    def is_up(self) -> bool:
        """Its shim supervises it: running, paused, or between two runs of a restart."""
        return self in _UP

    def is_up_or_starting(self) -> bool:
        """Up, or on the way there: what a wait for its end, or a rm without -f, waits for."""
        return self in _UP or self is Status.STARTING

    def can_start(self) -> bool:
        return self in (Status.CREATED, Status.EXITED)

    def can_stop(self) -> bool:
        """Stop and kill have something to stop."""
        return self in _UP

    def can_pause(self) -> bool:
        return self is Status.RUNNING

    def can_unpause(self) -> bool:
        return self is Status.PAUSED

    def can_exec(self) -> bool:
        return self is Status.RUNNING


_UP = frozenset((Status.RUNNING, Status.PAUSED, Status.RESTARTING))


class HealthStatus(StrEnum):
    """The `status` of a state's `health` record (Docker's words)."""

    STARTING = "starting"    # no verdict yet: no check passed, too few failed
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class HealthProbe(TypedDict):
    """One run of the healthcheck, as the state's `health.log` keeps it."""

    start: str
    end: str
    exit_code: int
    output: str


class HealthRecord(TypedDict, total=False):
    """A state's `health` (Docker's `State.Health`); empty when no check has run."""

    status: str              # a HealthStatus value
    failing_streak: int
    log: list[HealthProbe]   # the last few probes, oldest first


@dataclass
class ContainerState:
    """What the engine records about one container (its state file, typed)."""

    id: str
    name: str
    status: Status
    spec: dict[str, Any] = field(default_factory=dict)  # ContainerSpec.to_dict()
    created_at: str = ""
    creator_pid: int = 0   # the CLI process in the middle of a create or a start
    pid: int = 0           # PID 1, seen from the host; 0 when not running
    shim_pid: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: str = ""
    finished_at: str = ""
    restart_count: int = 0
    error: str = ""
    netns: str = ""        # the network namespace it was given (a path), if any
    network: dict[str, Any] = field(default_factory=dict)  # what the wirings reported
    health: HealthRecord | None = None                     # once a healthcheck has run
    # keys this version does not know (written by a newer one), kept as they were
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ContainerState:
        """From a state file's content, which `statefile.shape_problem` has checked."""
        known = {k: v for k, v in raw.items() if k in _KEYS}
        known["status"] = Status(known["status"])
        return cls(**known, extra={k: v for k, v in raw.items() if k not in _KEYS})

    def to_dict(self) -> dict[str, Any]:
        """The state file's content (and the form the runtime's callers get)."""
        out = {name: getattr(self, name) for name in _KEYS}
        out["status"] = self.status.value
        if out["health"] is None:
            del out["health"]  # absent until the first check, as it always was
        out.update(self.extra)
        return out

    def container_spec(self) -> ContainerSpec:
        """The recorded `spec`, typed (the record keeps the file's form, so that keys a newer
        version wrote survive a rewrite)."""
        from stackup.engine.runtime.spec import ContainerSpec

        return ContainerSpec.from_dict(self.spec)

    def replace(self, **changes: Any) -> ContainerState:
        if "status" in changes:
            changes["status"] = Status(changes["status"])
        return dataclasses.replace(self, **changes)


_KEYS = tuple(f.name for f in dataclasses.fields(ContainerState) if f.name != "extra")


class StateStore:
    """The state files of the containers in one directory (`<dir>/<id>/state.json`)."""

    def __init__(self, containers_dir: Path):
        self.dir = containers_dir

    def path(self, cid: str) -> Path:
        return self.dir / cid / statefile.FILE

    def exists(self, cid: str) -> bool:
        return self.path(cid).exists()

    def locked(self, cid: str) -> statefile.Locked:
        """Hold the container's lock around a read-modify-write (FileNotFoundError when the
        container's directory is gone)."""
        return statefile.Locked(str(self.dir / cid))

    def read(self, cid: str) -> ContainerState | None:
        """The container's state; None when it has no state file. Raises DamagedState."""
        raw = statefile.read(str(self.path(cid)))
        return None if raw is None else ContainerState.from_dict(raw)

    def write(self, state: ContainerState, durable: bool = False) -> None:
        statefile.write(str(self.path(state.id)), state.to_dict(), durable)
