"""`stackup exec SERVICE CMD...`: run a command in a running service container."""

from __future__ import annotations

import os
import sys

import typer

from stackup.cli import commands
from stackup.errors import ConflictError, NotFoundError, UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "exec", exec_, context_settings={"allow_interspersed_args": False})


def exec_(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="Service"),
    command: list[str] = typer.Argument(..., help="Command and arguments"),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run the command in the background"),
    no_tty: bool = typer.Option(False, "-T", "--no-TTY", help="Don't allocate a TTY"),
    interactive: bool = typer.Option(True, "-i", "--interactive", help="Keep stdin open"),
    env: list[str] = typer.Option([], "-e", "--env", help="Set an environment variable"),
    user: str = typer.Option(None, "-u", "--user", help="User"),
    workdir: str = typer.Option(None, "-w", "--workdir", help="Working directory"),
    index: int = typer.Option(1, "--index", help="Which container of the service"),
    privileged: bool = typer.Option(False, "--privileged", help="Not supported"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.engine.runtime.containerstate import Status
    from stackup.project.engine_adapter import Engine

    if privileged:
        raise UserError("exec: --privileged is not supported by stackup yet")
    sess = cc.session(ctx, need_file=False)
    states = [s for s in cc.project_states(sess, [service]) if Engine.observed(s).number == index]
    if not states:
        raise NotFoundError(f"service {service}: no container with index {index}")
    state = states[0]
    if not Status(state["status"]).can_exec():
        raise ConflictError(f"service {service}: container {state['name']} is {state['status']}, not running")
    if detach:
        return run_detached(sess, state["id"], list(command), env, user, workdir)
    return run_exec(sess, state["id"], list(command), env, user, workdir,
                    tty=not no_tty and os.isatty(0) and os.isatty(1), interactive=interactive)


def run_detached(sess, container_id: str, command: list[str], env: list[str], user: str | None,
                 workdir: str | None) -> int:
    """`exec -d`: the command runs in the container with no terminal and no stdin, its
    output discarded (as compose does); the process that waits for it is a session of
    its own, so it outlives this CLI and dies with the container. This CLI returns once
    the command has been exec'd, or fails as `exec` would when it cannot start."""
    from stackup.engine.runtime.container import StartError

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
                run_exec(sess, container_id, command, env, user, workdir, tty=False,
                         interactive=False, on_start=lambda: os.write(ready_w, b"ok"))
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
        return 0
    if not report:
        raise UserError("exec -d: the background process could not be started")
    code, _, message = report.decode(errors="replace").partition(" ")
    print(f"stackup: {message}", file=sys.stderr)
    return int(code)


def run_exec(sess, container_id: str, command: list[str], env: list[str], user: str | None,
             workdir: str | None, tty: bool, interactive: bool, on_start=None) -> int:
    """`exec` in the foreground; with `on_start`, a failure to start is raised (StartError)
    rather than reported, and `on_start()` is called once the command runs."""
    from stackup.engine.runtime.container import StartError
    from stackup.engine.runtime.exec import exec_in

    items = []
    for item in env:
        if "=" in item:
            items.append(item)
        elif item in os.environ:
            items.append(f"{item}={os.environ[item]}")
    try:
        return exec_in(sess.engine.runtime, container_id, command, items, user, workdir,
                       tty=tty, interactive=interactive, on_start=on_start)
    except StartError as exc:
        if on_start is not None:
            raise
        print(f"stackup: {exc}", file=sys.stderr)
        return exc.exit_code
