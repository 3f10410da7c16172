"""start, stop, restart, pause, unpause, kill, rm and wait on a stack's services
(the operations are `stackup.project.control`'s)."""

from __future__ import annotations

import sys

import typer

from stackup.cli import commands

SERVICES = typer.Argument(None, help="Services (default: all)")


def register(app: typer.Typer) -> None:
    commands.add(app, "start", start)
    commands.add(app, "stop", stop)
    commands.add(app, "restart", restart)
    commands.add(app, "pause", pause)
    commands.add(app, "unpause", unpause)
    commands.add(app, "kill", kill)
    commands.add(app, "rm", rm)
    commands.add(app, "wait", wait)


def start(ctx: typer.Context, services: list[str] = SERVICES) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import control

    control.start(cc.session(ctx, need_file=False, services=services or []), services or [], cc.renderer(ctx))
    return 0


def stop(ctx: typer.Context, services: list[str] = SERVICES,
         timeout: int = typer.Option(None, "-t", "--timeout", help="Seconds before killing")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import control

    sess = cc.session(ctx, need_file=False, services=services or [])
    control.stop(sess, services or [], cc.parse_timeout(timeout), cc.renderer(ctx))
    return 0


def restart(ctx: typer.Context, services: list[str] = SERVICES,
            timeout: int = typer.Option(None, "-t", "--timeout", help="Seconds before killing")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import control

    sess = cc.session(ctx, need_file=False, services=services or [])
    control.restart(sess, services or [], cc.parse_timeout(timeout), cc.renderer(ctx))
    return 0


def _each(ctx: typer.Context, services: list[str] | None, action: str, **kw: str) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import control

    control.each(cc.session(ctx, need_file=False, services=services or []), services or [], control.Action[action], cc.renderer(ctx), **kw)
    return 0


def pause(ctx: typer.Context, services: list[str] = SERVICES) -> int:
    return _each(ctx, services, "PAUSE")


def unpause(ctx: typer.Context, services: list[str] = SERVICES) -> int:
    return _each(ctx, services, "UNPAUSE")


def kill(ctx: typer.Context, services: list[str] = SERVICES,
         signal_: str = typer.Option("SIGKILL", "-s", "--signal", help="Signal to send")) -> int:
    return _each(ctx, services, "KILL", signal=signal_)


def rm(ctx: typer.Context, services: list[str] = SERVICES,
       force: bool = typer.Option(False, "-f", "--force", help="Don't ask (stackup never asks)"),
       stop_first: bool = typer.Option(False, "-s", "--stop", help="Stop the containers first"),
       volumes: bool = typer.Option(False, "-v", "--volumes", help="Remove their anonymous volumes")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import control

    if not control.rm(cc.session(ctx, need_file=False, services=services or []), services or [], cc.renderer(ctx),
                      stop=stop_first, volumes=volumes):
        print("No stopped containers", file=sys.stderr)
    return 0


def wait(ctx: typer.Context, services: list[str] = SERVICES,
         down_project: bool = typer.Option(False, "--down-project", help="Take the project down after the first exits")) -> int:
    """Block until the services' containers exit; exit code of the first."""
    from stackup.cli import compose_common as cc
    from stackup.project import control

    return control.wait(cc.session(ctx, need_file=False, services=services or []), services or [], cc.renderer(ctx),
                        down_project=down_project)
