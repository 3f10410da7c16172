"""`events`: the project's container events (create, start, pause, unpause, die,
restart, destroy) as they happen, found by comparing the engine's records every
`interval` seconds (the engine keeps no event log)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from stackup.engine.runtime.containerstate import ContainerState, Status
from stackup.project import naming
from stackup.project.engine_adapter import Engine
from stackup.project.session import Session

# (old status, new status) -> the event Docker names for that change
TRANSITIONS = {(Status.CREATED, Status.RUNNING): "start", (Status.EXITED, Status.RUNNING): "start",
               (Status.RUNNING, Status.PAUSED): "pause", (Status.PAUSED, Status.RUNNING): "unpause",
               (Status.RUNNING, Status.EXITED): "die", (Status.PAUSED, Status.EXITED): "die",
               (Status.RESTARTING, Status.RUNNING): "restart", (Status.RUNNING, Status.RESTARTING): "die"}


@dataclass(frozen=True)
class ContainerEvent:
    time: datetime      # when it was seen (UTC)
    action: str
    id: str
    name: str
    service: str
    image: str
    attributes: dict[str, str] = field(default_factory=dict)  # besides name and image: labels, exitCode


def changes(before: dict[str, ContainerState], after: dict[str, ContainerState]) -> list[tuple[ContainerState, str]]:
    """What happened between two looks at the containers (by id): (state, action)."""
    found = []
    for cid, state in after.items():
        old = before.get(cid)
        if old is None:
            found.append((state, "create"))
            if state.status == Status.RUNNING:
                found.append((state, "start"))
        elif old.status != state.status:
            found.append((state, TRANSITIONS.get((old.status, state.status)) or str(state.status)))
    found += [(state, "destroy") for cid, state in before.items() if cid not in after]
    return found


def attributes(state: ContainerState, action: str) -> dict[str, str]:
    """What Docker's event carries besides name and image, as compose shows it: the
    container's labels without the orchestrator's own, and a die's exit code."""
    found = {k: v for k, v in state.container_spec().labels.items() if not k.startswith(naming.PREFIX)}
    if action == "die":
        found["exitCode"] = str(state.exit_code or 0)
    return found


def watch(session: Session, services: Sequence[str], on_event: Callable[[ContainerEvent], None],
          interval: float = 0.25) -> None:
    """Report events until interrupted (KeyboardInterrupt ends it quietly)."""

    def snapshot() -> dict[str, ContainerState]:
        return {s.id: s for s in session.containers(services, oneoff=None)}

    seen = snapshot()
    try:
        while True:
            time.sleep(interval)
            now = snapshot()
            for state, action in changes(seen, now):
                extra = attributes(state, action)
                on_event(ContainerEvent(datetime.now(timezone.utc), action, state.id,
                                        state.name, Engine.observed(state).service,
                                        state.container_spec().image, extra))
            seen = now
    except KeyboardInterrupt:
        return
