"""A build's progress as BuildKit shows it.

The builder reports `StepEvent`s (a step started, was cached, is done, failed) and
`StepOutput` lines. Several builds may run at once (`up`, `stackup build`): each
view takes `(build, event)`, `build` naming the build (its image), and numbers the
steps of all builds in one sequence, as BuildKit numbers a bake's.

- plain: BuildKit's plain format, for logs and pipes:
      #3 [web 2/4] RUN make
      #3 0.512 cc -o app app.c
      #3 DONE 0.6s
  (`#N CACHED`, `#N ERROR: ...`; a blank line whenever another step speaks).
- tty: a live view, one line per step with its time; a running step shows its last
  output lines under it, folded away when it is done; a failed step keeps them.
- quiet: nothing (the failure itself is reported by the command, with the failing
  step's last lines).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any, Protocol

from stackup.engine.build.model import StepEvent, StepOutput
from stackup.errors import UserError

MODES = ("auto", "tty", "plain", "quiet")


class BuildView(Protocol):
    def __call__(self, build: str, event: StepEvent | StepOutput) -> None: ...

    def close(self) -> None: ...


class _Numbers:
    """One sequence of step numbers over every build shown."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, int], int] = {}

    def __call__(self, build: str, vertex: int) -> int:
        key = (build, vertex)
        if key not in self.numbers:
            self.numbers[key] = len(self.numbers) + 1
        return self.numbers[key]


class PlainBuildView:
    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.lock = threading.Lock()
        self.number = _Numbers()
        self.titles: dict[int, str] = {}
        self.last: int | None = None

    def __call__(self, build: str, event: StepEvent | StepOutput) -> None:
        with self.lock:
            n = self.number(build, event.vertex)
            if isinstance(event, StepOutput):
                self._speak(n, f"{event.elapsed:.3f} {event.text}")
                return
            self.titles[n] = event.title
            if event.status == "started":
                self._speak(n, None)
            elif event.status == "cached":
                self._speak(n, "CACHED")
            elif event.status == "done":
                self._speak(n, f"DONE {event.elapsed:.1f}s")
            elif event.status == "error":
                self._speak(n, f"ERROR: {event.error}" if event.error else "ERROR")
            self.stream.flush()

    def _speak(self, n: int, text: str | None) -> None:
        """A line of step `n` (None: only its header); its header again, after a
        blank line, when another step spoke last."""
        if self.last != n:
            if self.last is not None:
                self.stream.write("\n")
            self.stream.write(f"#{n} {self.titles.get(n, '')}".rstrip() + "\n")
            self.last = n
        if text is not None:
            self.stream.write(f"#{n} {text}\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class QuietBuildView:
    def __call__(self, build: str, event: StepEvent | StepOutput) -> None:
        pass

    def close(self) -> None:
        pass


class _Step:
    def __init__(self, title: str, started: float):
        self.title = title
        self.status = "started"
        self.started = started
        self.ended: float | None = None
        self.error = ""
        self.lines: list[str] = []


class TtyBuildView:
    """A rich live view: `[+] Building 3.2s (4/7)`, then a line per step."""

    SHOWN_LINES = 6      # of a running step's output
    KEPT_LINES = 12      # of a failed step's

    def __init__(self, stream: IO[str] | None = None, *, console: Any = None):
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(file=stream if stream is not None else sys.stderr)
        self.lock = threading.Lock()
        self.number = _Numbers()
        self.steps: dict[int, _Step] = {}
        self.began = time.monotonic()
        self.live = Live(console=self.console, refresh_per_second=8, transient=False,
                         get_renderable=self._render)
        self.live.start()

    def __call__(self, build: str, event: StepEvent | StepOutput) -> None:
        now = time.monotonic()
        with self.lock:
            n = self.number(build, event.vertex)
            step = self.steps.get(n)
            if isinstance(event, StepOutput):
                if step is not None:
                    step.lines.append(event.text)
                    del step.lines[:-self.KEPT_LINES]
                return
            if step is None:
                step = self.steps[n] = _Step(event.title, now)
            step.status = event.status
            if event.status != "started":
                step.ended = now
                step.error = event.error
        self.live.refresh()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        now = time.monotonic()
        with self.lock:
            steps = sorted(self.steps.items())
            finished = sum(1 for _, s in steps if s.status != "started")
            rows: list[Any] = [Text(f"[+] Building {now - self.began:.1f}s ({finished}/{len(steps)})",
                                    style="bold")]
            for n, step in steps:
                rows += self._rows(n, step, now)
        return Group(*rows)

    def _rows(self, n: int, step: _Step, now: float) -> list[Any]:
        from rich.text import Text

        elapsed = f"{(step.ended or now) - step.started:.1f}s"
        words = {"cached": " CACHED", "error": " ERROR"}.get(step.status, "")
        style = {"error": "red", "done": "blue", "cached": "blue"}.get(step.status, "")
        rows: list[Any] = [Text(f" => #{n} {step.title}{words}  {elapsed}", style=style)]
        if step.status == "started":
            rows += [Text(f" => => {line}", style="dim") for line in step.lines[-self.SHOWN_LINES:]]
        elif step.status == "error":
            rows += [Text(f" => => {line}", style="red") for line in step.lines]
            if step.error:
                rows.append(Text(f" => ERROR: {step.error}", style="red"))
        return rows

    def close(self) -> None:
        self.live.refresh()
        self.live.stop()


def resolve_mode(mode: str, stream: IO[str] | None = None) -> str:
    """tty, plain or quiet for `--progress MODE` (auto: tty on a terminal, else plain)."""
    if mode not in MODES:
        raise UserError(f"--progress {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "auto":
        stream = stream if stream is not None else sys.stderr
        return "tty" if getattr(stream, "isatty", lambda: False)() else "plain"
    return mode


def make_view(mode: str, stream: IO[str] | None = None) -> BuildView:
    """The view for `--progress MODE`, writing to `stream` (stderr)."""
    mode = resolve_mode(mode, stream)
    if mode == "quiet":
        return QuietBuildView()
    if mode == "plain":
        return PlainBuildView(stream)
    return TtyBuildView(stream)
