"""`stackup logs`: the output of the stack's containers, each line prefixed with
its container's name (coloured on a terminal)."""

from __future__ import annotations

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "logs", logs)


def logs(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services"),
    follow: bool = typer.Option(False, "-f", "--follow", help="Follow the output"),
    tail: str = typer.Option("all", "-n", "--tail", help="Lines from the end of each log, or all"),
    timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Show timestamps"),
    since: str = typer.Option(None, "--since", help="Since a time or a duration (10m)"),
    until: str = typer.Option(None, "--until", help="Until a time or a duration (10m)"),
    no_color: bool = typer.Option(False, "--no-color", help="Monochrome output"),
    no_log_prefix: bool = typer.Option(False, "--no-log-prefix", help="Don't prefix lines"),
    index: int = typer.Option(None, "--index", help="Only the container with this number"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.logs import LogsOptions, logs as compose_logs

    if tail != "all" and not tail.isdigit():
        raise UserError(f"--tail {tail!r}: expected a number or all")
    sess = cc.session(ctx, need_file=False, services=services or [])
    options = LogsOptions(services=tuple(services or []), follow=follow,
                          tail=None if tail == "all" else int(tail), since=since, until=until, index=index)
    on_event = cc.renderer(ctx, colour=False if no_color else None, prefix=not no_log_prefix,
                           timestamps=timestamps)
    return compose_logs(sess, options, on_event)
