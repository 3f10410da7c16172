"""The user's terminal on a container's pty: raw mode, window size and the copy both ways,
for attach and exec."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import termios
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def raw_terminal(stdin: int, master: int) -> Iterator[None]:
    """Put `stdin` (if it is a terminal) in raw mode and keep the pty `master`'s window
    size equal to it (SIGWINCH) for the block; restore both afterwards."""
    is_tty = os.isatty(stdin)
    saved = termios.tcgetattr(stdin) if is_tty else None

    def resize(*_: Any) -> None:
        if is_tty:
            with contextlib.suppress(OSError):
                size = fcntl.ioctl(stdin, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(master, termios.TIOCSWINSZ, size)

    resize()
    old_handler = signal.signal(signal.SIGWINCH, resize)
    if is_tty:
        import tty as ttymod

        ttymod.setraw(stdin, termios.TCSANOW)  # not TCSAFLUSH: what was typed ahead is kept
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, old_handler)
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)


def relay(output: int, master: int, stdin: int, stdout: int, interactive: bool) -> None:
    """Our terminal on the pty `master` until `output` ends: raw mode, `output` (the pty's
    output, read from the master itself or from the shim's connection) to `stdout`, our
    keys to the pty (the end of our input as the terminal's EOF character), window size
    followed."""
    inputs = [output] + ([stdin] if interactive else [])
    with raw_terminal(stdin, master):
        while True:
            try:
                ready, _, _ = select.select(inputs, [], [])
            except InterruptedError:
                continue
            if output in ready:
                try:
                    data = os.read(output, 65536)
                except OSError:  # EIO: the last holder of the pty's other end closed it
                    data = b""
                if not data:
                    break
                write_all(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    write_all(master, data)
                else:
                    os.write(master, b"\x04")
                    inputs.remove(stdin)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
