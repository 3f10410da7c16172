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
    import sys

    from stackup.cli import compose_common as cc
    from stackup.project.reconcile import DownOptions, plan_down

    sess = cc.session(ctx, need_file=False)
    options = DownOptions(volumes=volumes, remove_orphans=remove_orphans, rmi=rmi,
                          timeout=cc.parse_timeout(timeout), disabled_services=sess.disabled_services)
    with sess.locked():
        plan = plan_down(sess.observe(images_too=False), options, sess.desired)  # no image ids needed
        if dry_run:
            sys.stdout.write(plan.render() or "nothing to do\n")
            return 0
        cc.run_plan(ctx, plan, sess.engine)
    return 0
