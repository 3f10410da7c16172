"""Detached helper processes (DNS servers, port proxies) and how to find them again.

A helper is started through `python -m stackup.engine.network.<module>`, so its
command line names stackup, in its own session, and outlives the CLI command that
started it. The caller binds the helper's sockets and hands them over: what could
fail at start (an address or port in use) is the caller's error at once, and the
helper's clients queue in the sockets while its interpreter starts, so nobody waits
for it.

Who restarts a helper that died: the next command that looks (any `up`, `network ls`,
a container joining the network), not a resident supervisor. A helper is recorded with
its pid and start time, and it serves while it still holds its sockets (sockettable),
so the check is a few reads of /proc and netlink (~0.4 ms a helper). The shim is not
the supervisor: a DNS server belongs to a network that many containers (of several
stacks) share, so no one shim owns it, and restarting a proxy means binding host ports
with the network engine's code, which the shim (standard library only, ~1 MB a
container) must not load; a supervisor that restarts on its own also needs a back-off
against crash loops, where the next `up` simply reports what it repaired.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stackup.engine import proctable

_started: dict[int, subprocess.Popen] = {}  # our children: reaped when stopped


def start_on_sockets(module: str, args: list[str], *, log: Path, pass_fds: tuple[int, ...]) -> int:
    """Start a helper on the sockets `pass_fds` (bound by the caller); its pid, at once.
    Its standard error goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    # -S: no site (its .pth files and the editable-install finder cost ~20 ms); the
    # helper gets this process's import path instead, with stackup's own folder first.
    # -P: the current folder is not on it (a user's `json.py` there must not be imported).
    argv = [sys.executable, "-S", "-P", "-m", module, *args]
    given = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(_import_path() + given))
    with open(log, "ab") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, pass_fds=pass_fds, start_new_session=True,
                                close_fds=True, env=env, cwd="/")
    _started[proc.pid] = proc
    return proc.pid


def _import_path() -> list[str]:
    """stackup's folder, then this process's import path without its script's folder."""
    package_root = str(Path(__file__).resolve().parents[3])
    inherited = sys.path if sys.flags.safe_path else sys.path[1:]
    return [package_root] + [p for p in inherited if p and p != package_root and os.path.isdir(p)]


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


def alive(pid: int | None, token: str, started: int | None = None) -> bool:
    """True when `pid` is a live (not zombie) stackup helper whose command line holds `token`
    and, when `started` is given (see `start_time`), that started then: a pid reused by
    another helper of the same object (a second `up` that restarted it) is not this one."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X") or b"stackup" not in cmdline or token.encode() not in cmdline:
        return False
    return started is None or int(fields[19]) == started


def running(module: str) -> list[tuple[int, list[str]]]:
    """Live helpers of `module`: (pid, the arguments after the module's name), found by
    their command lines, which is how a helper whose record is lost is found again."""
    found = []
    for pid, argv in proctable.command_lines():
        if module in argv and argv.index(module) > 0 and argv[argv.index(module) - 1] == "-m" \
                and alive(pid, module):
            found.append((pid, argv[argv.index(module) + 1:]))
    return found


def find(module: str, *tokens: str) -> list[int]:
    """Live helpers of `module` whose arguments hold every token (a root, an id)."""
    return [pid for pid, args in running(module)
            if all(any(t in arg for arg in args) for t in tokens)]


def suspended(pid: int) -> bool:
    """`pid` is stopped (SIGSTOP, a debugger): alive, but it answers nobody."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (/proc/PID/stat, field 22): with the pid,
    a process's identity (a pid alone may be reused)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def stop_strays(module: str, token: str) -> int:
    """Stop every helper running `module` for `token` (its object's id): one a killed
    command started but never recorded still holds the sockets a restart must bind.
    How many there were."""
    strays = [pid for pid, args in running(module) if token in args]
    for pid in strays:
        stop(pid, token, started=start_time(pid))
    return len(strays)


def stop(pid: int | None, token: str, timeout: float = 2.0, started: int | None = None) -> None:
    """Stop a helper (SIGTERM, then SIGKILL) if it is still the one we started."""
    if alive(pid, token, started):
        assert pid is not None
        _terminate(pid, token, timeout)
    if pid and started is not None:
        _wait_released(pid, started, timeout)
    child = _started.pop(pid or 0, None)
    if child is not None:
        child.wait()  # it has exited: collect its status, no zombie


def _wait_released(pid: int, started: int, timeout: float) -> None:
    """Wait until the threads of the killed helper `pid` are gone too. Its main thread is
    a zombie at once, but its sockets are closed by the last of its threads to exit: a
    restart that binds before then fails with "Address already in use"."""
    deadline = time.monotonic() + timeout
    while start_time(pid) == started and time.monotonic() < deadline:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return
        if threads == [str(pid)] and not alive(pid, "", started):
            return  # only the zombie main thread is left: its files are released
        time.sleep(0.01)


def _terminate(pid: int, token: str, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)  # a stopped helper handles its SIGTERM only once continued
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
