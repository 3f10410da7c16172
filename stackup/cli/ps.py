"""`stackup ps`: the project's containers, their state (with health) and ports."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import typer

from stackup.cli import commands
from stackup.cli.table import print_table
from stackup.errors import UserError

if TYPE_CHECKING:
    from stackup.cli.gotemplate import Struct
    from stackup.engine.runtime.containerstate import ContainerState


STATUSES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")


def register(app: typer.Typer) -> None:
    commands.add(app, "ps", ps)


def describe(state: ContainerState, dns_down: Collection[str] = (), named: Mapping[str, str] | None = None,
             trunc: bool = True) -> Struct:
    """One row of `ps` (also `--format json`), docker compose's fields, names and formats
    (`named`: volume mountpoints -> names, to tell volumes from binds), and its status text
    (`Up 5 seconds (healthy)`, `Exited (0) 2 minutes ago`). A running container one of
    whose helpers is gone says so where compose puts the health, in the status text
    (`Up 5 seconds (degraded: port proxy down)`): the State stays `running` (its
    processes run) and scripts that read the JSON see the same fields."""
    from stackup.cli import shapes
    from stackup.engine.runtime.containerstate import Status
    from stackup.project import health
    from stackup.project.engine_adapter import Engine

    c = Engine.observed(state)
    spec = state.container_spec()
    status = c.status
    check = health.Check.from_docker(spec.healthcheck)
    health_status = ""
    if check is not None and c.running:
        health_status = health.current_status(state).get("status") or health.STARTING
    if status.is_up():
        text = "Restarting" if status is Status.RESTARTING else f"Up {shapes.since(state.started_at)}"
        if status is Status.PAUSED:
            text += " (Paused)"
        elif health_status:
            text += f" ({health_status})"
        problems = Engine.helper_problems(state, dns_down)
        if problems:  # like the health in parentheses: a helper it relies on is gone
            text += f" (degraded: {', '.join(problems)})"
    elif status is Status.EXITED:
        text = f"Exited ({c.exit_code if c.exit_code is not None else 0}) {shapes.since(state.finished_at)} ago"
    else:
        text = status.capitalize()
    return shapes.compose_row(state, text, health_status, c.exit_code or 0, c.service, c.project,
                              shapes.volume_names() if named is None else named, trunc)


def ps(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services"),
    all_: bool = typer.Option(False, "-a", "--all", help="Also stopped containers (and one-offs)"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only ids"),
    list_services: bool = typer.Option(False, "--services", help="Only service names"),
    status: list[str] = typer.Option([], "--status", help="Filter by state (repeatable)"),
    fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)"),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.cli import formatting, gotemplate, shapes
    from stackup.engine.runtime.containerstate import Status
    from stackup.project.engine_adapter import Engine

    if fmt.strip() not in ("", "table", "json"):
        gotemplate.parse(fmt)  # a bad template fails before anything is read
    for s in status:
        if s not in STATUSES:
            raise UserError(f"--status {s!r}: expected one of {', '.join(STATUSES)}")
    sess = cc.session(ctx, need_file=False, services=services or [])
    states = sess.containers(list(services or []), oneoff=None if all_ else False)
    dns_down = Engine.networks_without_dns() if any(s.status.is_up() for s in states) else set()
    named = shapes.volume_names() if states else {}
    rows = [describe(s, dns_down, named, trunc=not no_trunc) for s in states]
    if status:
        rows = [r for r in rows if r["State"] in status]
    elif not all_:
        rows = [r for r in rows if Status(r["State"]).is_up()]
    if list_services:
        for name in sorted({r["Service"] for r in rows}):
            print(name)
        return 0
    if quiet:
        for row in rows:
            print(row["ID"])
        return 0

    def table() -> None:
        lines = [("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")]
        lines += [(r["Name"], r["Image"], r["Command"], r["Service"], r["RunningFor"], r["Status"], r["Ports"])
                  for r in rows]
        print_table(lines)

    formatting.render(fmt, rows, table, fields=FIELDS)
    return 0


# compose's ps fields: what a `table TEMPLATE` header names when there is no container
FIELDS = ("Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Label", "Labels", "LocalVolumes",
          "Mounts", "Name", "Names", "Networks", "Ports", "Project", "Publishers", "RunningFor",
          "Service", "Size", "State", "Status")
