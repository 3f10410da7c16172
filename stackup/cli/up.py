"""`stackup up`: create and start the stack's containers (compose's flags).

The flags become `UpOptions` for `stackup.project.up`, which does the work; this
module renders its events. Attached (no `-d`), the services' output is multiplexed
with `name-1  | ` prefixes until every container has exited.
"""

from __future__ import annotations

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "up", up)


def up(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services (default: all)"),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run in the background"),
    build: bool = typer.Option(False, "--build", help="Build images before starting"),
    no_build: bool = typer.Option(False, "--no-build", help="Don't build an image, even if it's missing"),
    pull: str = typer.Option("policy", "--pull", help="Pull images: always, missing, never (default: each service's pull_policy)"),
    force_recreate: bool = typer.Option(False, "--force-recreate", help="Recreate containers even if unchanged"),
    always_recreate_deps: bool = typer.Option(False, "--always-recreate-deps", help="Recreate dependent containers"),
    no_recreate: bool = typer.Option(False, "--no-recreate", help="Don't recreate existing containers"),
    renew_anon_volumes: bool = typer.Option(False, "-V", "--renew-anon-volumes",
                                            help="Recreate anonymous volumes instead of retrieving data "
                                                 "from the previous containers"),
    no_deps: bool = typer.Option(False, "--no-deps", help="Don't start linked services"),
    no_start: bool = typer.Option(False, "--no-start", help="Create without starting"),
    wait: bool = typer.Option(False, "--wait", help="Wait for services to be running|healthy (implies -d)"),
    wait_timeout: int = typer.Option(None, "--wait-timeout", help="Maximum seconds to wait"),
    remove_orphans: bool = typer.Option(False, "--remove-orphans", help="Remove containers of services not in the stack"),
    abort_on_container_exit: bool = typer.Option(False, "--abort-on-container-exit",
                                                 help="Stop all containers if any container stops"),
    exit_code_from: str = typer.Option(None, "--exit-code-from", help="Return the exit code of this service's container"),
    scale: list[str] = typer.Option([], "--scale", help="SERVICE=NUM (repeatable)"),
    timeout: int = typer.Option(None, "-t", "--timeout", help="Shutdown timeout in seconds"),
    no_color: bool = typer.Option(False, "--no-color", help="Monochrome output"),
    no_log_prefix: bool = typer.Option(False, "--no-log-prefix", help="Don't prefix log lines"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing"),
    watch: bool = typer.Option(False, "-w", "--watch", help="Watch source code and sync, restart or rebuild "
                                                        "services when files are updated"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.reconcile import UpOptions
    from stackup.project.up import AttachOptions, up as compose_up

    if exit_code_from:
        abort_on_container_exit = True
    if detach and abort_on_container_exit:
        raise UserError("-d and --abort-on-container-exit (or --exit-code-from) cannot be used together")
    if wait:
        detach = True
    if watch and detach:
        raise UserError("--watch cannot be used with -d (or --wait): the watch runs in the foreground")
    if wait_timeout is not None and wait_timeout < 0:
        raise UserError("--wait-timeout must not be negative")
    sess = cc.session(ctx)
    options = UpOptions(
        services=tuple(services or []), no_deps=no_deps, force_recreate=force_recreate,
        always_recreate_deps=always_recreate_deps, no_recreate=no_recreate, no_start=no_start,
        renew_anon_volumes=renew_anon_volumes,
        pull=pull, build=build, no_build=no_build, scale=cc.parse_scale(scale), remove_orphans=remove_orphans,
        timeout=cc.parse_timeout(timeout), wait=wait,
        wait_timeout=None if wait_timeout is None else float(wait_timeout))
    attach = None if detach else AttachOptions(abort_on_container_exit=abort_on_container_exit,
                                                exit_code_from=exit_code_from or None)
    on_event = cc.renderer(ctx, colour=False if no_color else None, prefix=not no_log_prefix)
    return compose_up(sess, options, on_event, attach=attach, dry_run=dry_run, watch=watch)
