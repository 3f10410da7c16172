"""A container's state file, `<container dir>/state.json`: its status words, its shape,
the one reader and the one writer, and the lock that every read-modify-write holds.

The shim imports this module, so it uses only interpreter built-ins, `minijson`,
`checkedjson` and `stackup.errors` (small, and nothing they import is heavy; see
shim.py for why); `containerstate` builds the typed form (`Status`,
`ContainerState`) on it for the rest of the engine. The keys and words are an on-disk
format that files written by earlier versions keep using: add to them, never rename.
"""

import fcntl
import os

from stackup.engine import checkedjson
from stackup.engine.checkedjson import DamagedState
from stackup.engine.runtime import minijson

TYPE_CHECKING = False  # not typing's: the shim loads no typing; type checkers know the name
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DamagedState", "Locked", "read", "shape_problem", "update", "write"]

FILE = "state.json"
LOCK = "lock"

# Docker's words, and the two that a create and a start pass through.
CREATING, CREATED, STARTING = "creating", "created", "starting"
RUNNING, PAUSED, RESTARTING, EXITED = "running", "paused", "restarting", "exited"
STATUSES = (CREATING, CREATED, STARTING, RUNNING, PAUSED, RESTARTING, EXITED)

# key -> the types its value may have; the first three keys every state has
REQUIRED = {"id": (str,), "name": (str,), "status": (str,)}
OPTIONAL = {
    "spec": (dict,), "created_at": (str,), "creator_pid": (int,), "pid": (int,),
    "shim_pid": (int,), "exit_code": (int, type(None)), "oom_killed": (bool,),
    "started_at": (str,), "finished_at": (str,), "restart_count": (int,), "error": (str,),
    "netns": (str,), "network": (dict,), "health": (dict, type(None)),
}


def shape_problem(state: object) -> str:
    """What is wrong with the shape of a parsed state file; "" when nothing is."""
    problem = checkedjson.object_with(REQUIRED, OPTIONAL, state)
    if not problem and state["status"] not in STATUSES:  # type: ignore[index]
        problem = "unknown status %r" % state["status"]  # type: ignore[index]
    return problem


def read(path: str) -> "dict | None":
    """The state in `path`, checked; None when there is no such file. Raises DamagedState."""
    return checkedjson.read(path, shape_problem)  # type: ignore[return-value]


def write(path: str, state: dict, durable: bool = False) -> None:
    """Replace the file at once: readers see the old state or the new, never half of one.

    `durable` also fsyncs it and its directory, for what a power loss must not undo (that
    the container exists); lifecycle moves skip that, since after a power loss no
    container runs anyway and the next command repairs whatever status it finds.
    Callers hold the lock (or own a container no one else knows yet), so the temporary
    file's name needs to be unique per process only."""
    directory, name = os.path.split(path)
    tmp = "%s/.%s.%d.tmp" % (directory, name, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (minijson.dumps(state) + "\n").encode())
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class Locked:
    """`with Locked(cdir):` holds the container's lock (an flock on `<cdir>/lock`); the
    CLI and the shim take it for every read-modify-write of the state file. Raises
    FileNotFoundError when the container's directory is gone (removed meanwhile)."""

    def __init__(self, cdir: str) -> None:
        self.path = "%s/%s" % (cdir, LOCK)
        self.fd = -1

    def __enter__(self) -> "Locked":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)
        self.fd = -1


def update(cdir: str, change: "Callable[[dict], None]") -> "dict | None":
    """Read, `change(state)` (edits the dict in place), write back (not fsynced), all under
    the lock; the new state, or None when the container is gone (removed meanwhile)."""
    path = "%s/%s" % (cdir, FILE)
    try:
        with Locked(cdir):
            state = read(path)
            if state is None:
                return None
            change(state)
            write(path, state)
            return state
    except FileNotFoundError:  # the directory itself is gone
        return None
