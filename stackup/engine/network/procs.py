"""Detached helper processes (DNS servers, port proxies) and how to find them again.

A helper is started through `python -m stackup.engine.network.<module>`, so its
command line names stackup, in its own session, and outlives the CLI command that
started it. Two ways to start one:

- `spawn`: the helper binds its own sockets, then forks once more (its first child
  exits, so it is reparented away from the caller: no zombie when it dies) and reports
  readiness with one line on stdout; the caller waits for that line, so a helper that
  failed to start is an error at once, not a silent gap.
- `start_on_sockets`: the caller binds the sockets (so a clash is its error at once)
  and hands them over; nothing to wait for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stackup.errors import StackupError

READY_TIMEOUT = 10.0


def spawn(module: str, args: list[str], *, log: Path, pass_fds: tuple[int, ...] = ()) -> int:
    """Start `python -m module args...` detached; return the helper's pid once it is ready."""
    return launch(module, args, log=log, pass_fds=pass_fds).ready()


class Launched:
    """A helper started but not yet known to be ready: `ready()` waits for its line, so
    the caller can do other work while the helper's interpreter starts."""

    def __init__(self, module: str, proc: subprocess.Popen, log: Path):
        self.module, self.proc, self.log = module, proc, log

    def ready(self) -> int:
        """The helper's pid once it reported ready; StackupError when it failed to start."""
        proc = self.proc
        assert proc.stdout is not None
        line = b""
        try:
            line = _read_line(proc.stdout.fileno(), READY_TIMEOUT)
        finally:
            proc.stdout.close()
            if not line.startswith(b"ready ") and proc.poll() is None:
                proc.kill()  # hung before it was ready: it must not linger
            proc.wait()
        if not line.startswith(b"ready "):
            log = self.log
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise StackupError(f"{self.module.rsplit('.', 1)[-1]} helper failed to start"
                               + (f": {tail[0]}" if tail else ""))
        return int(line.split()[1])


def launch(module: str, args: list[str], *, log: Path, pass_fds: tuple[int, ...] = ()) -> Launched:
    """Start `python -m module args...` detached, without waiting for it (see Launched)."""
    return Launched(module, _popen(module, args, log, pass_fds, subprocess.PIPE), log)


_started: dict[int, subprocess.Popen] = {}  # our children: reaped when stopped


def start_on_sockets(module: str, args: list[str], *, log: Path, pass_fds: tuple[int, ...]) -> int:
    """Start a helper that serves sockets the caller bound and hands over: its pid, at once.

    Binding, what could fail, was the caller's; so there is no ready line to wait for,
    the helper's clients queue in its sockets while its interpreter starts, and the
    helper stays this process's child (in its own session) rather than forking away.
    """
    proc = _popen(module, args, log, pass_fds, subprocess.DEVNULL)
    _started[proc.pid] = proc
    return proc.pid


def _popen(module: str, args: list[str], log: Path, pass_fds: tuple[int, ...],
           stdout: int) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    # -S: no site (its .pth files and the editable-install finder cost ~20 ms); the
    # helper gets this process's import path instead, with stackup's own folder first.
    # -P: the current folder is not on it (a user's `json.py` there must not be imported).
    argv = [sys.executable, "-S", "-P", "-m", module, *args]
    given = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(_import_path() + given))
    with open(log, "ab") as err:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err,
                                pass_fds=pass_fds, start_new_session=True, close_fds=True,
                                env=env, cwd="/")


def _import_path() -> list[str]:
    """stackup's folder, then this process's import path without its script's folder."""
    package_root = str(Path(__file__).resolve().parents[3])
    inherited = sys.path if sys.flags.safe_path else sys.path[1:]
    return [package_root] + [p for p in inherited if p and p != package_root and os.path.isdir(p)]


def _read_line(fd: int, timeout: float) -> bytes:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 256)
            if not chunk:
                break
            data += chunk
    finally:
        sel.close()
    return data.split(b"\n", 1)[0]


def detach_and_report_ready() -> None:
    """Called by a helper after binding: fork away from the caller and say `ready <pid>`."""
    if os.fork() > 0:
        os._exit(0)
    os.write(1, f"ready {os.getpid()}\n".encode())
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)


def exit_when_gone(path: Path, interval: float = 5.0) -> None:
    """A helper's backstop: exit once `path` (its record in the state) is gone.

    The normal way out is a signal from the command that removes the record; this
    catches the case where that command crashed in between, or the root was deleted.
    """
    import threading

    def watch() -> None:
        while True:
            time.sleep(interval)
            if not path.exists():
                os._exit(0)

    threading.Thread(target=watch, name="stackup-watch", daemon=True).start()


def alive(pid: int | None, token: str) -> bool:
    """True when `pid` is a live (not zombie) stackup helper whose command line holds `token`."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and b"stackup" in cmdline and token.encode() in cmdline


def stop(pid: int | None, token: str, timeout: float = 2.0) -> None:
    """Stop a helper (SIGTERM, then SIGKILL) if it is still the one we started."""
    if alive(pid, token):
        assert pid is not None
        _terminate(pid, token, timeout)
    child = _started.pop(pid or 0, None)
    if child is not None:
        child.wait()  # it has exited: collect its status, no zombie


def _terminate(pid: int, token: str, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_exit(pid, timeout) or not alive(pid, token):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while alive(pid, token):
        time.sleep(0.01)


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait (without polling: a pidfd is readable once the process has exited) until `pid`
    has exited; False on timeout. A helper is not our child, so it is not reaped here."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # no pidfd (old kernel): poll
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists():
                return True
            time.sleep(0.01)
        return False
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
