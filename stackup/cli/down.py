"""`stackup down`: stop and remove the project's containers and networks (with -v
its volumes, with --rmi its images). Works from labels alone: `-p NAME` without a
stack file takes down whatever the project left."""

from __future__ import annotations

import typer

from stackup.cli import commands


def register(app: typer.Typer) -> None:
    commands.add(app, "down", down)


def down(
    ctx: typer.Context,
    volumes: bool = typer.Option(False, "-v", "--volumes", help="Also remove named and anonymous volumes"),
    rmi: str = typer.Option(None, "--rmi", help="Remove images: local or all"),
    remove_orphans: bool = typer.Option(False, "--remove-orphans", help="Remove containers of services not in the stack"),
    timeout: int = typer.Option(None, "-t", "--timeout", help="Shutdown timeout in seconds"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.down import down as compose_down
    from stackup.project.reconcile import DownOptions

    sess = cc.session(ctx, need_file=False)
    options = DownOptions(volumes=volumes, remove_orphans=remove_orphans, rmi=rmi, timeout=cc.parse_timeout(timeout))
    return compose_down(sess, options, cc.renderer(ctx), dry_run=dry_run)
