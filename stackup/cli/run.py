"""`stackup run SERVICE [CMD...]`: a one-off container of a service. Its
dependencies are brought up first (unless --no-deps); the command runs attached
to the user's terminal (a tty, by compose's rule) or stdin and output, and its
exit code is stackup's."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any, Optional

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "run", run, context_settings={"allow_interspersed_args": False})


def run(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="Service"),
    command: list[str] = typer.Argument(None, help="Command and arguments"),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background; print the name"),
    rm: bool = typer.Option(False, "--rm", help="Remove the container when it exits"),
    name: str = typer.Option(None, "--name", help="Container name"),
    env: list[str] = typer.Option([], "-e", "--env", help="Set an environment variable"),
    entrypoint: str = typer.Option(None, "--entrypoint", help="Override the entrypoint"),
    no_tty: bool = typer.Option(False, "-T", "--no-TTY", "--no-tty",
                                help="Don't allocate a TTY (default: one when stdin and stdout are terminals)"),
    tty: Optional[bool] = typer.Option(None, "-t", "--tty", hidden=True, help="Allocate a TTY"),
    interactive: Optional[bool] = typer.Option(None, "-i", "--interactive/--no-interactive",
                                               help="Attach stdin (default: yes)"),
    no_deps: bool = typer.Option(False, "--no-deps", help="Don't start linked services"),
    service_ports: bool = typer.Option(False, "--service-ports", help="Publish the service's ports"),
    volume: list[str] = typer.Option([], "-v", "--volume", help="Bind mount a volume"),
    workdir: str = typer.Option(None, "-w", "--workdir", help="Working directory"),
    user: str = typer.Option(None, "-u", "--user", help="User"),
    label: list[str] = typer.Option([], "-l", "--label", help="Add a label KEY=VALUE"),
    pull: str = typer.Option("policy", "--pull", help="Pull images: always, missing, never"),
    build: bool = typer.Option(False, "--build", help="Build the image before starting the container"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.engine_adapter import StartFailed
    from stackup.project.run import OneOffOptions, run as compose_run

    if rm and detach:
        raise UserError("--rm and -d cannot be used together")
    use_tty, stdin_open = terminal_mode(tty=tty, no_tty=no_tty, interactive=interactive,
                                        stdin_tty=os.isatty(0), stdout_tty=os.isatty(1))
    sess = cc.session(ctx)
    options = OneOffOptions(
        service=service, command=tuple(command or ()),
        entrypoint=None if entrypoint is None else (shlex.split(entrypoint) if entrypoint else []),
        env={key: (value if sep else None) for key, sep, value in (item.partition("=") for item in env)},
        volumes=tuple(_volume(v) for v in volume), workdir=workdir or None, user=user or None,
        labels=dict(item.partition("=")[::2] for item in label), name=name or None,
        tty=use_tty, stdin_open=stdin_open, detach=detach, rm=rm, no_deps=no_deps,
        service_ports=service_ports, pull=pull, build=build)
    _quiet_progress(ctx)
    try:
        result = compose_run(sess, options, cc.renderer(ctx))
    except StartFailed as exc:
        print(f"stackup: {exc}", file=sys.stderr)
        return exc.exit_code
    if detach:
        print(result.container)
    return result.exit_code


def _volume(short: str) -> dict[str, Any]:
    """A -v flag's `[source:]target[:options]` in the long form."""
    from stackup.shortsyntax import parse_volume

    return parse_volume(short)


def terminal_mode(*, tty: bool | None, no_tty: bool, interactive: bool | None,
                  stdin_tty: bool, stdout_tty: bool) -> tuple[bool, bool]:
    """(allocate a tty, attach stdin) for `run`, by docker compose's rule (its
    cmd/compose/run.go): stdin is attached unless `--no-interactive`; a tty is
    allocated when stdout is a terminal, unless `-T`, or unless stdin is not a terminal
    and neither -T, -t nor -i was given (piped input); `-t` forces one. The service's
    own `tty` and `stdin_open` do not count: `run` sets both."""
    if tty is not None and no_tty:
        raise UserError("--tty and --no-TTY cannot be used together")
    attach_stdin = True if interactive is None else interactive
    if tty is not None:
        use_tty = tty
    elif no_tty or (interactive is None and not stdin_tty):
        use_tty = False
    else:
        use_tty = stdout_tty
    if use_tty and attach_stdin and not stdin_tty:
        raise UserError("the input device is not a TTY: use -T, or run from a terminal")
    return use_tty, attach_stdin


def _quiet_progress(ctx: typer.Context) -> None:
    """`run` shows the command's output, not the progress of its one container, unless
    the user asked for progress."""
    if getattr(ctx.obj, "progress", "auto") == "auto" and not sys.stderr.isatty():
        ctx.obj.progress = "quiet"
