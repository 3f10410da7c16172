"""`stackup exec SERVICE CMD...`: run a command in a running service container."""

from __future__ import annotations

import os
import sys

import typer

from stackup.cli import commands
from stackup.errors import UserError


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
    from stackup.project.engine_adapter import StartFailed
    from stackup.project.exec import ExecOptions, exec_ as compose_exec

    if privileged:
        raise UserError("exec: --privileged is not supported by stackup yet")
    sess = cc.session(ctx, need_file=False, services=[service])
    options = ExecOptions(service=service, command=tuple(command), index=index, detach=detach,
                          tty=not detach and not no_tty and os.isatty(0) and os.isatty(1),
                          interactive=interactive and not detach, env=tuple(env), user=user, workdir=workdir)
    try:
        return compose_exec(sess, options)
    except StartFailed as exc:
        print(f"stackup: {exc}", file=sys.stderr)
        return exc.exit_code
