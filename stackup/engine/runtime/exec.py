"""Running another process in a running container (`exec`).

A forked child joins the container's cgroup and namespaces (the mount namespace last,
which also puts it at the container's root), forks again so the process is inside the
PID namespace, and becomes the process exactly as PID 1 did: user, env, working
dir, limits, capabilities, seccomp, no_new_privs. With a TTY the process gets a pty
and this side relays the terminal in raw mode; without one it shares our stdio.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import socket
import sys
import termios
from collections.abc import Callable

from stackup.engine.runtime import cgpaths, launch, security
from stackup.engine.runtime import syscalls as sc
from stackup.engine.runtime.container import Runtime, StartError
from stackup.engine.runtime.containerstate import ContainerState
from stackup.engine.runtime.spec import ContainerSpec
from stackup.engine.runtime.terminal import relay
from stackup.errors import ConflictError, UserError

NAMESPACES = ("ipc", "uts", "net", "pid", "cgroup", "mnt")


def exec_in(runtime: Runtime, ref: str, argv: list[str], env: list[str] | None = None,
            user: str | None = None, workdir: str | None = None, tty: bool = False,
            interactive: bool = False, on_start: Callable[[], object] | None = None, *,
            privileged: bool = False, output: int | None = None) -> int:
    """Run `argv` in the container; returns its exit code (126/127 when it cannot run).

    `on_start` is called once the command has been exec'd (not when it fails to start),
    before it is waited for (`exec -d` reports then). `privileged`: with every
    capability and no seccomp filter (`exec --privileged`). `output`: a file descriptor
    for its stdout and stderr instead of ours (without a TTY)."""
    state = runtime.state(ref)
    if not state.status.can_exec() or not state.pid:
        raise ConflictError(f"container {state.name} is {state.status}, not running")
    spec = ContainerSpec.from_dict(state.spec)
    if privileged:
        spec = dataclasses.replace(spec, privileged=True)
    # With a TTY, the pty is opened in the container's own devpts (so `tty` and job
    # control work inside); the child sends us the master over a socket pair.
    sock_parent, sock_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fail_r, fail_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(fail_r)
        sock_parent.close()
        _enter(runtime, state, spec, argv, env or [], user, workdir, tty, interactive,
               sock_child, fail_w, output)
    os.close(fail_w)
    sock_child.close()
    master = -1
    failure = b""
    try:
        if on_start is not None:
            # The pipe ends at the command's exec (close-on-exec), or after its failure
            failure = _read_all(fail_r)
            if not failure:
                on_start()
        if tty:
            _, fds, _, _ = socket.recv_fds(sock_parent, 1, 1)
            if fds:
                master = fds[0]
                relay(master, master, sys.stdin.fileno(), sys.stdout.fileno(), True)
        status = _wait(child)
    finally:
        sock_parent.close()
        if master >= 0:
            os.close(master)
    reported = (failure + _read_all(fail_r)).decode(errors="replace")
    os.close(fail_r)
    if reported:
        code, _, message = reported.partition(" ")
        raise StartError(f"exec in {state.name}: {message}", int(code) if code.isdigit() else 126)
    return status


def exec_detached(runtime: Runtime, ref: str, argv: list[str], env: list[str] | None = None,
                  user: str | None = None, workdir: str | None = None) -> None:
    """`exec -d`: run `argv` in the container with no terminal and no stdin, its output
    discarded (as Docker does). The process that waits for it is a session of its own,
    so it outlives the caller and dies with the container. Returns once the command has
    been exec'd; raises `StartError` as `exec_in` would when it cannot start."""
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork():
                os._exit(0)
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
            try:
                exec_in(runtime, ref, argv, env, user, workdir,
                        on_start=lambda: os.write(ready_w, b"ok"))
            except StartError as exc:
                os.write(ready_w, f"{exc.exit_code} {exc}".encode())
        finally:
            os._exit(0)
    os.close(ready_w)
    os.waitpid(child, 0)
    report = b""
    while not report.startswith(b"ok") and (chunk := os.read(ready_r, 4096)):
        report += chunk
    os.close(ready_r)
    if report.startswith(b"ok"):
        return
    if not report:
        raise UserError("exec -d: the background process could not be started")
    code, _, message = report.decode(errors="replace").partition(" ")
    raise StartError(message, int(code) if code.isdigit() else 126)


def _enter(runtime: Runtime, state: ContainerState, spec: ContainerSpec, argv: list[str],
           env: list[str], user: str | None, workdir: str | None, tty: bool, interactive: bool,
           sock: socket.socket, fail_w: int, output: int | None = None) -> None:
    """In the forked child: join everything, fork into the PID namespace, become argv."""
    try:
        syscalls = sc.LinuxSyscalls()
        if spec.seccomp and not spec.privileged:
            security.prepare_seccomp(
                security.capability_set(spec.cap_add, spec.cap_drop, spec.privileged),
                str(runtime.root / "seccomp"))
        pid1 = state.pid
        fds = [os.open(f"/proc/{pid1}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in NAMESPACES]
        cgpaths.join(state.id, os.getpid())
        for fd in fds:
            syscalls.setns(fd, 0)
            os.close(fd)
        slave = -1
        if tty:
            master, slave = os.openpty()  # /dev/ptmx of the container's root now
            socket.send_fds(sock, [b"m"], [master])
            os.close(master)
        sock.close()
        grandchild = os.fork()
        if grandchild == 0:
            if tty:
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for n in (0, 1, 2):
                    os.dup2(slave, n)
                os.close(slave)
            elif not interactive:
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
            if output is not None and not tty:
                os.dup2(output, 1)
                os.dup2(output, 2)
            launch.become_process(syscalls, spec, argv, spec.env + env, user or spec.user,
                                  workdir or spec.working_dir, tty, False)
        os.close(fail_w)
        if slave >= 0:
            os.close(slave)
        os._exit(_wait(grandchild))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        launch.report_failure(fail_w, exc)


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 0
        return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


