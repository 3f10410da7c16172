"""start, stop, restart, rm, pause, unpause, kill and wait on a stack's services:
the operations on containers that exist already (their plans are in `lifecycle`).

Each works from the containers' labels, with or without the stack file; with one,
the services named are checked against it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from stackup.engine.runtime.containerstate import Status
from stackup.errors import StackupError, UserError
from stackup.project.apply import apply_plan
from stackup.project.events import ContainerChanged, OnEvent, Waited
from stackup.project.session import Session


def _checked(session: Session, services: Sequence[str]) -> None:
    if services and session.desired is not None:
        session.check_services(services)


def start(session: Session, services: Sequence[str], on_event: OnEvent) -> None:
    """Start the services' stopped containers, dependencies first."""
    from stackup.project.lifecycle import plan_start

    _checked(session, services)
    with session.locked():
        observed = session.observe()
        if not any(not c.oneoff and (not services or c.service in services) for c in observed.containers):
            raise UserError("no containers to start: run `stackup up` first")
        apply_plan(plan_start(observed, services, session.desired), session.engine, on_event)


def stop(session: Session, services: Sequence[str], timeout: float | None, on_event: OnEvent) -> None:
    """Stop the services' containers, dependents first."""
    from stackup.project.lifecycle import plan_stop

    _checked(session, services)
    with session.locked():
        apply_plan(plan_stop(session.observe(), services, timeout, session.desired), session.engine, on_event)


def restart(session: Session, services: Sequence[str], timeout: float | None, on_event: OnEvent) -> None:
    """Stop then start the services' containers (and those that ask to restart with them)."""
    from stackup.project.lifecycle import plan_restart

    _checked(session, services)
    with session.locked():
        apply_plan(plan_restart(session.observe(), services, timeout, session.desired), session.engine, on_event)


def rm(session: Session, services: Sequence[str], on_event: OnEvent, *, stop: bool = False,
       volumes: bool = False) -> bool:
    """Remove the services' stopped containers (with `stop`, stop them first; with
    `volumes`, their anonymous volumes too); False when there was none."""
    from stackup.project.lifecycle import plan_rm

    _checked(session, services)
    with session.locked():
        plan = plan_rm(session.observe(), services, stop=stop, volumes=volumes, desired=session.desired)
        if plan.is_empty():
            return False
        apply_plan(plan, session.engine, on_event)
    return True


class Action(enum.Enum):
    """A one-container action: the states it applies to, and its word once done."""

    PAUSE = (Status.can_pause, "Paused")
    UNPAUSE = (Status.can_unpause, "Unpaused")
    KILL = (Status.can_stop, "Killed")

    def __init__(self, applies_to: Callable[[Status], bool], done: str):
        self.applies_to = applies_to
        self.done = done


def each(session: Session, services: Sequence[str], action: Action, on_event: OnEvent, *,
         signal: str = "SIGKILL") -> None:
    """Apply `action` to every container of the services in a state it applies to, one
    after the other; one problem per failure, naming the container."""
    _checked(session, services)
    engine = session.engine
    failures = []
    with session.locked():
        for state in session.containers(services):
            if not action.applies_to(state.status):
                continue
            try:
                if action is Action.PAUSE:
                    engine.pause_container(state.id)
                elif action is Action.UNPAUSE:
                    engine.unpause_container(state.id)
                else:
                    engine.kill_container(state.id, signal)
                on_event(ContainerChanged(state.name, action.done))
            except StackupError as exc:
                failures.append(f"container {state.name}: {exc}")
    if failures:
        raise StackupError(failures[0], problems=failures)


def wait(session: Session, services: Sequence[str], on_event: OnEvent, *, down_project: bool = False) -> int:
    """Block until the services' containers exit (each reported as `Waited`); the exit
    code of the first. With `down_project`, only the first, then the project goes down."""
    _checked(session, services)
    states = session.containers(services)
    if not states:
        raise UserError("no containers to wait for")
    code = 0
    for i, state in enumerate(states):
        result = session.engine.wait_exited(state.id, None)
        on_event(Waited(state.name, result))
        if i == 0:
            code = result
        if down_project:
            break
    if down_project:
        from stackup.project.reconcile import DownOptions, plan_down

        with session.locked():
            apply_plan(plan_down(session.observe(), DownOptions(), session.desired), session.engine, on_event)
    return code
