"""`stackup watch [SERVICE...]`: bring the services up (unless `--no-up`), then follow
their `develop.watch` paths until interrupted (compose's flags)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from stackup.cli import commands


def register(app: typer.Typer) -> None:
    commands.add(app, "watch", watch)


def watch(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services (default: all with a develop section)"),
    no_up: bool = typer.Option(False, "--no-up", help="Do not build and start the services before watching"),
    quiet: bool = typer.Option(False, "--quiet", help="Hide build output"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.events import BuildProgress, OperationEvent
    from stackup.project.reconcile import UpOptions
    from stackup.project.up import up
    from stackup.project.watch import WatchOptions, check, watch as watch_project

    sess = cc.session(ctx)
    chosen = tuple(services or [])
    rules = check(sess, chosen)
    render = cc.renderer(ctx)

    def on_event(event: OperationEvent) -> None:
        if not (quiet and isinstance(event, BuildProgress)):
            render(event)

    if not no_up:
        up(sess, UpOptions(services=chosen or tuple(sorted({r.service for r in rules}))), on_event)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, on_signal), signal.signal(signal.SIGTERM, on_signal)
    try:
        watch_project(sess, WatchOptions(services=chosen), on_event, stop)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    return 0
