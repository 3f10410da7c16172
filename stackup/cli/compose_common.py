"""What the compose-level commands share: opening the session from the global
options, rendering an operation's events (progress, warnings, multiplexed log
lines), and parsing the flags several commands have."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from stackup.errors import UserError

if TYPE_CHECKING:
    import typer

    from stackup.cli.build_progress import BuildView
    from stackup.project.events import OperationEvent
    from stackup.project.progress import Progress
    from stackup.project.session import Session

COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def session(ctx: typer.Context, need_file: bool = True, services: Iterable[str] = ()) -> Session:
    """The project the global options name (its loader's warnings shown here). The
    `services` a command names have their profiles enabled, as compose enables them."""
    from stackup.project.session import open_session
    from stackup.stackfile import LoadOptions

    options = LoadOptions.from_global(ctx.obj, enable_services=list(services or ()))
    sess = open_session(options, need_file=need_file)
    for warning in sess.warnings:
        print(f"stackup: warning: {warning}", file=sys.stderr)
    return sess


def renderer(ctx: typer.Context, **log_style: Any) -> Renderer:
    """A renderer with the progress mode of the global options; `log_style` as LogPrinter's."""
    return Renderer(getattr(ctx.obj, "progress", "auto"), **log_style)


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


class Renderer:
    """Shows a compose operation's events as compose does: a plan's progress on stderr
    (live lines on a terminal), warnings, the plan of a dry run, and the containers'
    output with `name-1  | ` prefixes."""

    def __init__(self, progress_mode: str, *, colour: bool | None = None, prefix: bool = True,
                 timestamps: bool = False):
        self.progress_mode = progress_mode
        self.colour, self.prefix, self.timestamps = colour, prefix, timestamps
        self.progress: Progress | None = None
        self.printer: LogPrinter | None = None
        self.build_view: BuildView | None = None

    def __call__(self, event: OperationEvent) -> None:
        from stackup.project import events
        from stackup.project.progress import Event

        if isinstance(event, Event):
            if self.progress is not None:
                self.progress(event)
        elif isinstance(event, events.PlanStarted):
            from stackup.project.progress import make_progress

            self.progress = make_progress(self.progress_mode)
        elif isinstance(event, events.PlanFinished):
            if self.progress is not None:
                self.progress.close()
            self.progress = None
        elif isinstance(event, events.PlanWarning):
            print(f"stackup: warning: {event.text}", file=sys.stderr)
        elif isinstance(event, events.Repaired):
            print(f"stackup: repaired: {event.text}", file=sys.stderr)
        elif isinstance(event, events.PlanPreview):
            sys.stdout.write(event.text)
        elif isinstance(event, events.LogSources):
            self.printer = self._new_printer(event.containers)
        elif isinstance(event, events.Attaching):
            print("Attaching to " + ", ".join(event.containers), file=sys.stderr)
        elif isinstance(event, events.LogLine):
            self._printer().line(event.container, event.text, event.time)
        elif isinstance(event, events.ContainerExited):
            self._printer().line(event.container, f"exited with code {event.exit_code}")
        elif isinstance(event, events.Stopping):
            print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr)
        elif isinstance(event, events.ContainerChanged):
            print(f" Container {event.container}  {event.status}", file=sys.stderr)
        elif isinstance(event, events.Waited):
            print(event.exit_code)
        elif isinstance(event, events.ImageChanged):
            print(f" Image {event.reference}  {event.status}", file=sys.stderr)
        elif isinstance(event, events.BuildProgress):
            self._build_step(event)
        elif isinstance(event, events.WatchNote):
            print(event.text, file=sys.stderr, flush=True)

    def _build_step(self, event: Any) -> None:
        """A build's step: BuildKit's plain lines in plain mode; on a terminal, the step
        that runs becomes the status of the image's progress line (its output folded)."""
        from stackup.cli.build_progress import PlainBuildView, resolve_mode
        from stackup.engine.build.model import StepEvent
        from stackup.project.progress import WORKING, Event

        mode = resolve_mode(self.progress_mode)
        if mode == "plain":
            if self.build_view is None:
                self.build_view = PlainBuildView()
            self.build_view(event.image, event.event)
        elif mode == "tty" and self.progress is not None and isinstance(event.event, StepEvent) \
                and event.event.status == "started":
            self.progress(Event(f"Image {event.image}", event.event.title, WORKING))

    def _new_printer(self, names: Iterable[str]) -> LogPrinter:
        return LogPrinter(names, colour=self.colour, prefix=self.prefix, timestamps=self.timestamps)

    def _printer(self) -> LogPrinter:
        if self.printer is None:
            self.printer = self._new_printer([])
        return self.printer


class LogPrinter:
    """Writes container output lines with a `name-1  | ` prefix, one colour per
    container (when the output is a terminal and colours are wanted)."""

    def __init__(self, names: Iterable[str], *, colour: bool | None = None, prefix: bool = True,
                 timestamps: bool = False, stream: TextIO | None = None):
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
