"""Helpers the compose-level commands share: the session, running a plan with
progress, finding the project's containers, and multiplexed log output."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from stackup.errors import NotFoundError, UserError

COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def session(ctx: Any, need_file: bool = True):
    from stackup.project.session import open_session

    return open_session(ctx.obj, need_file=need_file)


def run_plan(ctx: Any, plan: Any, engine: Any, *, raise_on_failure: bool = True) -> Any:
    """Execute `plan` with compose-like progress on stderr; its outcome (None for an
    empty plan: the executor is not even imported, which keeps a no-change `up` fast)."""
    for warning in plan.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    if plan.is_empty():
        return None
    from stackup.project.executor import execute
    from stackup.project.progress import make_progress

    progress = make_progress(getattr(ctx.obj, "progress", "auto"))
    try:
        outcome = execute(plan, engine, on_event=progress)
    finally:
        progress.close()
    if raise_on_failure:
        outcome.raise_for_failure()
    return outcome


def project_states(sess: Any, services: Sequence[str] = (), *, oneoff: bool | None = False,
                   running_only: bool = False) -> list[dict[str, Any]]:
    """Runtime states of the project's containers (of `services` if given), sorted
    by service then number. `oneoff`: False (service containers), True, None (both)."""
    from stackup.project import naming
    from stackup.project.engine_adapter import Engine

    if services and sess.desired is not None:
        sess.check_services(services)
    found = []
    for state in sess.engine.container_states({naming.PROJECT: sess.name}):
        c = Engine.observed(state)
        if services and c.service not in services:
            continue
        if oneoff is not None and c.oneoff != oneoff:
            continue
        if running_only and not c.running:
            continue
        found.append(((c.service, c.oneoff, c.number, state["name"]), state))
    return [state for _, state in sorted(found, key=lambda item: item[0])]


def runtime_logs() -> Any:
    """The runtime's log reader, or one clear line when this build has no runtime."""
    try:
        from stackup.engine.runtime import logs
    except ImportError:
        from stackup.errors import UnsupportedError

        raise UnsupportedError("the container runtime is not available in this build") from None
    return logs


def parse_scale(items: Iterable[str]) -> dict[str, int]:
    result = {}
    for item in items:
        name, sep, number = item.partition("=")
        if not sep or not name or not number.isdigit():
            raise UserError(f"--scale {item!r}: expected SERVICE=NUMBER")
        result[name] = int(number)
    return result


def parse_timeout(value: int | None) -> float | None:
    if value is not None and value < 0:
        raise UserError("-t/--timeout must not be negative")
    return None if value is None else float(value)


class LogPrinter:
    """Writes container output lines with a `name-1  | ` prefix, one colour per
    container (when the output is a terminal and colours are wanted)."""

    def __init__(self, names: Iterable[str], *, colour: bool | None = None, prefix: bool = True,
                 timestamps: bool = False, stream: Any = None):
        self.stream = stream or sys.stdout
        names = list(names)
        self.width = max((len(n) for n in names), default=0)
        self.colour = self.stream.isatty() if colour is None else colour
        self.prefix = prefix
        self.timestamps = timestamps
        self.colours: dict[str, str] = {}
        self.lock = threading.Lock()
        for name in names:
            self.colour_of(name)

    def colour_of(self, name: str) -> str:
        if name not in self.colours:
            self.colours[name] = COLOURS[len(self.colours) % len(COLOURS)]
        return self.colours[name]

    def head(self, name: str) -> str:
        if not self.prefix:
            return ""
        text = f"{name.ljust(self.width)}  | "
        return f"\x1b[{self.colour_of(name)}m{text}\x1b[0m" if self.colour else text

    def line(self, name: str, text: str, when: str = "") -> None:
        stamp = f"{when} " if self.timestamps and when else ""
        with self.lock:
            self.stream.write(f"{self.head(name)}{stamp}{text.rstrip(chr(10))}\n")
            self.stream.flush()

    def entry(self, name: str, entry: dict[str, Any]) -> None:
        self.line(name, entry.get("log", ""), entry.get("time", ""))


def follow_logs(engine: Any, states: Sequence[dict[str, Any]], printer: LogPrinter, *,
                from_start: bool, since: str | None = None,
                on_exit: Callable[[dict[str, Any]], None] | None = None,
                stop: threading.Event | None = None) -> list[threading.Thread]:
    """One thread per container following its log until it stops; `on_exit` is
    called with the container's final state."""
    from stackup.engine.runtime.containerstate import Status

    logs = runtime_logs()
    threads = []
    for state in states:
        cid, name = state["id"], state["name"]

        def running(cid: str = cid) -> bool:
            if stop is not None and stop.is_set():
                return False
            try:
                return Status(engine.runtime.get(cid)["status"]).is_up_or_starting()
            except NotFoundError:
                return False

        def work(cid: str = cid, name: str = name) -> None:
            try:
                path = engine.runtime.cdir(cid) / "container.log"
                logs.follow(path, running, lambda e: printer.entry(name, e), since, from_start=from_start)
            finally:
                if on_exit is not None and not (stop is not None and stop.is_set()):
                    try:
                        on_exit(engine.runtime.get(cid))
                    except NotFoundError:
                        pass

        thread = threading.Thread(target=work, name=f"logs-{name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
