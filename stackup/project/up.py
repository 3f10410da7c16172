"""`up`: create and start the stack's containers, and in the foreground follow
their output until they exit.

Observe -> plan images -> execute -> observe again -> reconcile -> execute, under
the project's lock. A dry run reports the plan and changes nothing. In the
foreground the services' output is reported line by line until every container has
exited; an interrupt (SIGINT, SIGTERM) stops the stack gracefully, a second one
kills it.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from stackup.errors import UserError
from stackup.project.apply import apply_plan
from stackup.engine.runtime.containerstate import ContainerState
from stackup.project.events import (Attaching, ContainerExited, LogLine, LogSources, OnEvent, PlanPreview,
                                     Repaired, Stopping)
from stackup.project.reconcile import UpOptions, plan_images, reconcile, selection_closure
from stackup.project.session import Session

NOTHING_TO_DO = "nothing to do: the stack is up to date\n"


@dataclass(frozen=True)
class AttachOptions:
    """How `up` follows the services in the foreground (without it, `up` returns once
    they are started)."""

    abort_on_container_exit: bool = False   # stop the stack when any container exits
    exit_code_from: str | None = None       # the exit code to return: this service's


def up(session: Session, options: UpOptions, on_event: OnEvent, *, attach: AttachOptions | None = None,
       dry_run: bool = False, watch: bool = False) -> int:
    """Bring the selected services (and what they depend on) to the stack file's
    state; the exit code (in the foreground, that of the services by `attach`).
    `watch` (in the foreground only): follow their `develop.watch` paths meanwhile."""
    session.check_services(options.services)
    if watch:
        from stackup.project.watch import check

        check(session, options.services)
    if attach is not None and attach.exit_code_from and attach.exit_code_from not in session.services:
        raise UserError(f"--exit-code-from: no such service: {attach.exit_code_from}")
    options = dataclasses.replace(options, disabled_services=session.disabled_services,
                                  config_files=session.config_files, working_dir=session.working_dir)
    scope = sorted(selection_closure(session.services, options.services, options.no_deps))
    session.check_supported(scope)
    if dry_run:
        on_event(PlanPreview(reconcile(session.desired or {}, session.observe(), options).render() or NOTHING_TO_DO))
        return 0
    session.engine.on_build = on_event   # the steps of the images it builds
    with session.locked():
        for repaired in session.engine.repair_helpers():   # any `up`, also one that changes nothing
            on_event(Repaired(repaired))
        observed = session.observe()
        images = plan_images(session.desired or {}, observed, options)
        if not images.is_empty():
            apply_plan(images, session.engine, on_event)
            observed = session.observe()   # the pulls may have changed image ids
        plan = reconcile(session.desired or {}, observed, dataclasses.replace(options, images_resolved=True))
        apply_plan(plan, session.engine, on_event)
    if attach is None or options.no_start:
        return 0
    if not watch:
        return follow_until_exit(session, scope, options.timeout, attach, on_event)
    return _follow_watching(session, options, scope, attach, on_event)


def _follow_watching(session: Session, options: UpOptions, scope: Sequence[str], attach: AttachOptions,
                     on_event: OnEvent) -> int:
    """`up --watch`: the watch runs beside the followed output and ends with it."""
    from stackup.project.watch import WatchOptions, watch

    stop = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True, name="watch",
                               args=(session, WatchOptions(options.services, options.timeout), on_event, stop))
    watcher.start()
    try:
        return follow_until_exit(session, scope, options.timeout, attach, on_event)
    finally:
        stop.set()
        watcher.join(timeout=5)


def follow_until_exit(session: Session, services: Sequence[str], timeout: float | None,
                      attach: AttachOptions, on_event: OnEvent) -> int:
    """Report the services' output until their containers exit (or an interrupt)."""
    from stackup.project.logs import follow

    states, quiet = _attached(session, session.containers(services))
    names = tuple(s.name for s in states if s.name not in quiet)
    on_event(LogSources(names))
    on_event(Attaching(names))
    on_event = _hide_lines(on_event, quiet)
    exited: list[ContainerState] = []
    first_exit = threading.Event()
    lock = threading.Lock()

    def on_exit(state: ContainerState) -> None:
        with lock:
            exited.append(state)
        on_event(ContainerExited(state.name, state.exit_code))
        first_exit.set()

    interrupts: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        interrupts.append(signum)
        first_exit.set()

    abort = attach.abort_on_container_exit
    # before any output: an interrupt from here on stops the stack, never just stackup
    previous = signal.signal(signal.SIGINT, on_signal), signal.signal(signal.SIGTERM, on_signal)
    try:
        threads = follow(session.engine, states, on_event, from_start=True, on_exit=on_exit)
        while any(t.is_alive() for t in threads):
            first_exit.wait(0.2)
            if interrupts or (abort and exited):
                break
            first_exit.clear()
        if interrupts or abort:
            if interrupts:
                on_event(Stopping())
            _stop_all(session, services, timeout, interrupts, on_event)
        for t in threads:
            t.join(timeout=5)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    if interrupts:
        return 130
    if attach.exit_code_from:
        for state in session.containers([attach.exit_code_from]):
            return int(state.exit_code or 0)
        return 0
    if abort and exited:
        return int(exited[0].exit_code or 0)
    return 0


def _attached(session: Session, states: list[ContainerState]) -> tuple[list[ContainerState], set[str]]:
    """The containers `up` follows and, of them, those whose output it does not show:
    a service with `attach: false` is neither shown nor waited for, as in compose,
    unless no service is attached (then all are waited for, none shown)."""
    from stackup.project.engine_adapter import Engine

    configs = (session.desired or {}).get("services") or {}
    quiet = {s.name for s in states
             if str((configs.get(Engine.observed(s).service) or {}).get("attach", True)).lower() == "false"}
    followed = [s for s in states if s.name not in quiet]
    return (followed, set()) if followed else (states, quiet)


def _hide_lines(on_event: OnEvent, quiet: set[str]) -> OnEvent:
    """`on_event` without the output lines of the `quiet` containers."""
    if not quiet:
        return on_event

    def report(event: Any) -> None:
        if not (isinstance(event, LogLine) and event.container in quiet):
            on_event(event)
    return report


def _stop_all(session: Session, services: Sequence[str], timeout: float | None, interrupts: list[int],
              on_event: OnEvent) -> None:
    """Stop the services' containers in reverse dependency order; a second interrupt
    while stopping kills them instead."""
    from stackup.project.lifecycle import plan_stop

    seen = len(interrupts)
    stopping = threading.Thread(target=lambda: apply_plan(plan_stop(session.observe(), services, timeout),
                                                          session.engine, on_event, raise_on_failure=False),
                                daemon=True)
    stopping.start()
    while stopping.is_alive():
        stopping.join(0.2)
        if len(interrupts) > seen:
            for state in session.containers(services, running_only=True):
                try:
                    session.engine.kill_container(state.id)
                except Exception:  # noqa: BLE001 - it may have stopped meanwhile
                    pass
            seen = len(interrupts)
