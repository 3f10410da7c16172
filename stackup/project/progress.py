"""Compose-like progress: one line per resource (`Container webdemo-web-1  Started`).

The executor emits an `Event` whenever an operation begins, ends or fails. A
progress sink shows them: `TtyProgress` keeps one live line per resource with rich
(spinner while working, a tick or a cross at the end, and the time it took),
`PlainProgress` prints one line per event (logs, CI, pipes), `QuietProgress`
prints nothing. `make_progress("auto")` picks tty or plain from the stream.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Protocol

WORKING, DONE, ERROR, WARNING = "working", "done", "error", "warning"
MODES = ("auto", "tty", "plain", "quiet")


@dataclass(frozen=True)
class Event:
    """One progress line: a resource, its new status, and whether it is still working."""

    resource: str         # "Container webdemo-web-1", "Network webdemo_default", ...
    status: str           # "Creating", "Created", "Healthy", "Error", ...
    state: str = DONE     # WORKING | DONE | ERROR | WARNING
    detail: str = ""      # an error message, a reason


class Progress(Protocol):
    def __call__(self, event: Event) -> None: ...

    def close(self) -> None: ...


class QuietProgress:
    def __call__(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """One line per event, as `docker compose --progress plain` prints them."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = f" {event.resource}  {event.status}"
        if event.detail:
            line += f" {event.detail}"
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        pass


class TtyProgress:
    """A live block with one line per resource, in the order they first appear."""

    SYMBOLS = {DONE: "[green]✔[/]", ERROR: "[red]✘[/]", WARNING: "[yellow]![/]"}

    def __init__(self, stream: IO[str] | None = None, *, console: Any = None):
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(file=stream if stream is not None else sys.stderr)
        self.lock = threading.Lock()
        self.lines: dict[str, list[Any]] = {}   # resource -> [event, started, ended]
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False,
                         get_renderable=self._render)
        self.live.start()

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        table.add_column(width=1)
        table.add_column()
        table.add_column()
        table.add_column(justify="right")
        now = time.monotonic()
        with self.lock:
            rows = list(self.lines.values())
        for event, started, ended in rows:
            mark = Spinner("dots") if event.state == WORKING else self.SYMBOLS[event.state]
            status = event.status + (f" {event.detail}" if event.detail else "")
            colour = {ERROR: "red", WARNING: "yellow", DONE: "green"}.get(event.state, "")
            elapsed = f"{(ended or now) - started:.1f}s"
            table.add_row(mark, event.resource, f"[{colour}]{status}[/]" if colour else status, elapsed)
        return table

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        with self.lock:
            entry = self.lines.get(event.resource)
            started = entry[1] if entry and entry[2] is None else now
            self.lines[event.resource] = [event, started, None if event.state == WORKING else now]
        self.live.refresh()

    def close(self) -> None:
        self.live.refresh()
        self.live.stop()


def make_progress(mode: str = "auto", stream: IO[str] | None = None) -> Progress:
    """The progress sink for `--progress MODE` writing to `stream` (stderr)."""
    stream = stream if stream is not None else sys.stderr
    if mode not in MODES:
        from stackup.errors import UserError

        raise UserError(f"--progress {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "auto":
        mode = "tty" if getattr(stream, "isatty", lambda: False)() else "plain"
    if mode == "quiet":
        return QuietProgress()
    if mode == "plain":
        return PlainProgress(stream)
    return TtyProgress(stream)
