"""Progress of layer transfers: a bar per layer on a terminal, plain lines otherwise.

Reporters are called from several download threads at once, so they lock.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import TaskID


class Progress:
    """Reports nothing (quiet mode) and is the interface the others follow."""

    def start(self, key: str, label: str, total: int | None) -> None: ...
    def advance(self, key: str, n: int) -> None: ...
    def finish(self, key: str, status: str) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PlainProgress(Progress):
    """One line per event, e.g. `3f4ca61a2b1c: Downloading (2.1MB)` then `...: Pull complete`."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stderr
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def start(self, key: str, label: str, total: int | None) -> None:
        self._line(f"{key}: {label}" + (f" ({total} bytes)" if total else ""))

    def finish(self, key: str, status: str) -> None:
        self._line(f"{key}: {status}")

    def message(self, text: str) -> None:
        self._line(text)


class TtyProgress(Progress):
    """A rich progress bar per layer."""

    def __init__(self, out: TextIO | None = None):
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress as RichProgress, TextColumn,
                                   TransferSpeedColumn)

        self._bars = RichProgress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(),
                                  console=Console(file=out or sys.stderr, highlight=False),
                                  transient=False)
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self._bars.start()

    def start(self, key: str, label: str, total: int | None) -> None:
        with self._lock:
            self._tasks[key] = self._bars.add_task(f"{key}: {label}", total=total)

    def advance(self, key: str, n: int) -> None:
        with self._lock:
            if key in self._tasks:
                self._bars.advance(self._tasks[key], n)

    def finish(self, key: str, status: str) -> None:
        with self._lock:
            if key in self._tasks:
                task = self._tasks[key]
                total = self._bars.tasks[task].total if task < len(self._bars.tasks) else None
                self._bars.update(task, description=f"{key}: {status}", completed=total)
                self._bars.refresh()  # now: lines printed next would show the bars of before
            else:
                self._bars.console.print(f"{key}: {status}")

    def message(self, text: str) -> None:
        self._bars.console.print(text)

    def close(self) -> None:
        self._bars.stop()


def for_mode(mode: str) -> Progress:
    """auto (tty when stderr is a terminal), tty, plain or quiet."""
    if mode == "auto":
        mode = "tty" if sys.stderr.isatty() else "plain"
    return {"tty": TtyProgress, "plain": PlainProgress}.get(mode, Progress)()
