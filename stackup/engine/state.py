"""On-disk state of the engine: the root directory, atomic writes and locks.

Every state change is written to a temporary file, fsynced and renamed over the
old one, so a crash leaves either the old or the new content, never half of it.
Changes that read-modify-write take an exclusive `flock` on a lock file first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stackup.engine import checkedjson, notices
from stackup.engine.checkedjson import DamagedState

DEFAULT_ROOT = "/var/lib/stackup"


def root() -> Path:
    """The engine's root directory: `$STACKUP_ROOT`, else /var/lib/stackup."""
    return Path(os.environ.get("STACKUP_ROOT") or DEFAULT_ROOT).absolute()


def ensure_dir(path: Path, mode: int = 0o711) -> Path:
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so readers see the old or the new content only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # what tempfile.mkstemp does (a fresh name, created exclusively, mode 0600), without
    # importing tempfile and random into every command
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def remove_unfinished_writes(path: Path) -> None:
    """Remove what atomic writes of `path` left when killed between creating their temp
    file and renaming it (`.NAME.*.tmp` beside it). Call where no writer of `path` can be
    at work: when its object is removed, under the lock its writers take."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_json(path: Path, value: Any, mode: int = 0o644) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=2, sort_keys=True).encode() + b"\n", mode)


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON in `path`, or `default` when the file does not exist."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return default


def load_json(path: Path, shape_problem: Callable[[object], str], what: str) -> Any:
    """The JSON in `path`, checked by `shape_problem` (see checkedjson.read); None when the
    file is missing or damaged. A damaged file is set aside with a warning naming it:
    `what` says whose file it is ("the network file", ...)."""
    try:
        return checkedjson.read(str(path), shape_problem)
    except DamagedState as exc:
        set_aside(exc, what)
        return None


def set_aside(damage: DamagedState, what: str, then: str = "", stem: Path | None = None) -> None:
    """Rename the damaged file with a `.damaged` suffix (to `<stem>.damaged` when given)
    and say so in one line; `then`: what the engine does about it."""
    moved = checkedjson.set_aside(damage.path, str(stem or ""))
    where = f", set aside as {moved}" if moved else ""
    notices.warn(f"{what} {damage.path} is damaged ({damage.reason}){where}"
                 + (f"; {then}" if then else ""))


@contextlib.contextmanager
def locked(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold an flock on `path` (created if missing) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_locked(path: Path) -> Iterator[bool]:
    """Like `locked`, without waiting: yields whether the lock was free (and is now held)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)
