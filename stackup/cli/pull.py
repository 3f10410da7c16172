"""`stackup pull` and `stackup push`: the stack's images from and to registries
(the operations are `stackup.project.pull`'s)."""

from __future__ import annotations

import typer

from stackup.cli import commands


def register(app: typer.Typer) -> None:
    commands.add(app, "pull", pull)
    commands.add(app, "push", push)


def pull(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
         ignore_pull_failures: bool = typer.Option(False, "--ignore-pull-failures", help="Keep going on failures"),
         quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import pull as images
    from stackup.project.events import ImageChanged, OperationEvent

    render = cc.renderer(ctx)

    def on_event(event: OperationEvent) -> None:
        if not (quiet and isinstance(event, ImageChanged)):
            render(event)

    images.pull(cc.session(ctx), services or [], on_event, ignore_failures=ignore_pull_failures)
    return 0


def push(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
         ignore_push_failures: bool = typer.Option(False, "--ignore-push-failures", help="Keep going on failures")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project import pull as images

    images.push(cc.session(ctx), services or [], cc.renderer(ctx), ignore_failures=ignore_push_failures)
    return 0
