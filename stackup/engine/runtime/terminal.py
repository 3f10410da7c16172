"""The user's terminal on a container's pty: raw mode and window size, for attach and exec."""

from __future__ import annotations

import contextlib
import fcntl
import os
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
