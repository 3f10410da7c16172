"""`stackup build [SERVICE...]`: build the stack's images (compose's flags).

The flags become `BuildCommandOptions` for `stackup.project.builds`, which plans
and runs the builds; this module renders their steps (`cli.build_progress`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "build", build)


def parse_build_args(items: Iterable[str]) -> dict[str, str | None]:
    """`--build-arg K=V` (repeatable); `K` alone takes the environment's value (None here)."""
    result: dict[str, str | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or key != key.strip() or " " in key:
            raise UserError(f"--build-arg {item!r}: expected NAME=VALUE or NAME")
        result[key] = value if sep else None
    return result


def progress_mode(ctx: typer.Context, quiet: bool, progress: str | None) -> str:
    """`-q` wins, then the command's `--progress`, then the global one."""
    if quiet:
        return "quiet"
    return progress or (getattr(ctx.obj, "progress", None) or "auto")


def build(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services (default: all that build)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the cache when building"),
    pull: bool = typer.Option(False, "--pull", help="Always pull a newer version of the base images"),
    build_arg: list[str] = typer.Option([], "--build-arg", help="Set a build-time variable NAME[=VALUE]"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Don't print anything to stdout or progress"),
    progress: str = typer.Option(None, "--progress", help="auto, tty, plain or quiet"),
    with_dependencies: bool = typer.Option(False, "--with-dependencies",
                                           help="Also build the services the selected ones depend on"),
    push: bool = typer.Option(False, "--push", help="Push the images of services that name one"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and build nothing"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.cli.build_progress import make_view
    from stackup.project import builds
    from stackup.project.build import BuildFlags
    from stackup.project.events import BuildProgress, ImageChanged, OperationEvent, PlanWarning

    mode = progress_mode(ctx, quiet, progress)
    options = builds.BuildCommandOptions(
        services=tuple(services or ()), with_dependencies=with_dependencies, push=push,
        flags=BuildFlags(no_cache=no_cache, pull=pull, args=parse_build_args(build_arg)))
    sess = cc.session(ctx)
    if dry_run:
        sys.stdout.write(builds.build(sess, options, _ignore, dry_run=True).render())
        return 0
    view = make_view(mode)

    def on_event(event: OperationEvent) -> None:
        if isinstance(event, BuildProgress):
            view(event.image, event.event)
        elif isinstance(event, PlanWarning):
            print(f"stackup: warning: {event.text}", file=sys.stderr)
        elif isinstance(event, ImageChanged) and not quiet:
            print(f" Image {event.reference}  {event.status}", file=sys.stderr)

    try:
        builds.build(sess, options, on_event)
    finally:
        view.close()
    return 0


def _ignore(_event: object) -> None:
    pass
