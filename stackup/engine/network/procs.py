"""Detached helper processes (DNS servers, port proxies) and how to find them again.

A helper is started through `python -m stackup.engine.network.<module>`, so its
command line names stackup, in its own session, and outlives the CLI command that
started it. The caller binds the helper's sockets and hands them over: what could
fail at start (an address or port in use) is the caller's error at once, and the
helper's clients queue in the sockets while its interpreter starts, so nobody waits
for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def strays(module: str, token: str) -> list[int]:
    """Live helpers running `module` with `token` among their arguments, found by their
    command lines: one that a command killed right after starting it never recorded."""
    found = []
    wanted = (module.encode(), token.encode())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(word in argv for word in wanted) and alive(int(entry), token):
            found.append(int(entry))
    return found


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
