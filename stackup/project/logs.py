"""`logs`: the output of the project's containers, and following it as it grows
(also `up` in the foreground). Each line is reported as a `LogLine` event."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackup.engine.runtime.containerstate import ContainerState
from stackup.project.engine_adapter import Engine
from stackup.project.events import LogLine, LogSources, OnEvent
from stackup.project.session import Session

if TYPE_CHECKING:
    from stackup.engine.runtime.logs import LogEntry


@dataclass(frozen=True)
class LogsOptions:
    """`logs`'s flags (how lines look is the caller's business)."""

    services: tuple[str, ...] = ()     # empty: every service (one-off containers too)
    follow: bool = False
    tail: int | None = None            # the last lines of each log; None: all
    since: str | None = None           # a time or a duration back from now
    until: str | None = None
    index: int | None = None           # only the container with this number


def line(container: str, entry: LogEntry) -> LogLine:
    return LogLine(container, entry.get("log", ""), entry.get("time", ""), entry.get("stream", "stdout"))


def shown_name(state: ContainerState, project: str) -> str:
    """How compose's `logs` names a container in its prefix: without the project (`web-1`)."""
    prefix = f"{project}-"
    return state.name[len(prefix):] if state.name.startswith(prefix) else state.name


def logs(session: Session, options: LogsOptions, on_event: OnEvent) -> int:
    """Report the logs' lines in the order they were written, across containers;
    with `follow`, then the new lines of the running ones until they stop (or Ctrl-C)."""
    from stackup.errors import UserError

    if options.index is not None and len(options.services) != 1:
        raise UserError("--index requires one service to be selected")
    states = session.containers(options.services, oneoff=None)
    if options.index is not None:
        states = [s for s in states if Engine.observed(s).number == options.index]
    engine = session.engine
    since_at = engine.log_time(options.since) if options.since else None
    until_at = engine.log_time(options.until) if options.until else None
    shown = {s.id: shown_name(s, session.name) for s in states}
    on_event(LogSources(tuple(shown.values())))
    entries = []
    for state in states:
        for entry in engine.log_entries(state.id, options.tail, since_at):
            if until_at is None or entry.get("time", "") <= until_at:
                entries.append((entry.get("time", ""), shown[state.id], entry))
    # one timeline: lines of all containers in the order they were written
    for _, name, entry in sorted(entries, key=lambda item: item[0]):
        on_event(line(name, entry))
    if options.follow:
        threads = follow(engine, [s for s in states if Engine.observed(s).running], on_event, from_start=False,
                         shown=shown)
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
        except KeyboardInterrupt:
            return 0
    return 0


def follow(engine: Engine, states: Sequence[ContainerState], on_event: OnEvent, *, from_start: bool,
           on_exit: Callable[[ContainerState], None] | None = None,
           shown: Mapping[str, str] | None = None) -> list[threading.Thread]:
    """One thread per container reporting its log until it stops (its lines named as
    `shown` names its id, else by its name); `on_exit` is called with the container's
    final state."""
    threads = []
    for state in states:
        cid, name = state.id, (shown or {}).get(state.id, state.name)

        def work(cid: str = cid, name: str = name) -> None:
            from stackup.errors import NotFoundError

            try:
                engine.follow_log(cid, lambda e: on_event(line(name, e)),
                                  running=lambda: engine.is_logging(cid), from_start=from_start)
            finally:
                if on_exit is not None:
                    try:
                        on_exit(engine.container(cid))
                    except NotFoundError:
                        pass

        thread = threading.Thread(target=work, name=f"logs-{name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
