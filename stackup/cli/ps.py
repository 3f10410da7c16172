"""`stackup ps`: the project's containers, their state (with health) and ports."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, TypedDict

import typer

from stackup.cli import commands
from stackup.cli.table import print_table
from stackup.errors import UserError

if TYPE_CHECKING:
    from stackup.engine.runtime.containerstate import ContainerState



class Row(TypedDict):
    """One container in `ps` (`--format json` prints these as they are: compose's names)."""

    ID: str
    Name: str
    Image: str
    Command: str
    Service: str
    State: str
    Health: str
    Status: str
    ExitCode: int
    CreatedAt: str
    Publishers: list[str]
    Ports: str
    Project: str


STATUSES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")


def register(app: typer.Typer) -> None:
    commands.add(app, "ps", ps)


def _ago(stamp: str) -> str:
    """'5 seconds', '3 minutes', 'About an hour'... since an ISO time (Docker's words)."""
    from datetime import datetime, timezone

    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00")[:26] + ("+00:00" if stamp.endswith("Z") else ""))
    except ValueError:
        return "a while"
    seconds = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = seconds // 60
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    hours = minutes // 60
    if hours < 48:
        return "About an hour" if hours == 1 else f"{hours} hours"
    return f"{hours // 24} days"


def describe(state: ContainerState, dns_down: Collection[str] = ()) -> Row:
    """One row of `ps` (also `--format json`), compose's field names and status text
    (`Up 5 seconds (healthy)`, `Exited (0) 2 minutes ago`). A running container one of
    whose helpers is gone says so where compose puts the health, in the status text
    (`Up 5 seconds (degraded: port proxy down)`): the State stays `running` (its
    processes run) and scripts that read the JSON see the same fields."""
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
        text = "Restarting" if status is Status.RESTARTING else f"Up {_ago(state.started_at)}"
        if status is Status.PAUSED:
            text += " (Paused)"
        elif health_status:
            text += f" ({health_status})"
        problems = Engine.helper_problems(state, dns_down)
        if problems:  # like the health in parentheses: a helper it relies on is gone
            text += f" (degraded: {', '.join(problems)})"
    elif status is Status.EXITED:
        text = f"Exited ({c.exit_code if c.exit_code is not None else 0}) {_ago(state.finished_at)} ago"
    else:
        text = status.capitalize()
    ports = []
    for binding in (state.network.get("ports") or []):
        ip = binding.get("host_ip") or "0.0.0.0"
        ports.append(f"{ip}:{binding.get('host_port')}->{binding.get('container_port')}/{binding.get('protocol', 'tcp')}")
    return {"ID": state.id[:12], "Name": state.name, "Image": spec.image,
            "Command": " ".join(spec.argv), "Service": c.service, "State": status.value,
            "Health": health_status, "Status": text, "ExitCode": c.exit_code or 0,
            "CreatedAt": state.created_at, "Publishers": ports, "Ports": ", ".join(ports),
            "Project": c.project}


def ps(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Services"),
    all_: bool = typer.Option(False, "-a", "--all", help="Also stopped containers (and one-offs)"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only ids"),
    list_services: bool = typer.Option(False, "--services", help="Only service names"),
    status: list[str] = typer.Option([], "--status", help="Filter by state (repeatable)"),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> int:
    from stackup.cli import compose_common as cc
    from stackup.engine.runtime.containerstate import Status
    from stackup.project.engine_adapter import Engine

    if fmt not in ("table", "json"):
        raise UserError(f"--format {fmt!r}: expected table or json")
    for s in status:
        if s not in STATUSES:
            raise UserError(f"--status {s!r}: expected one of {', '.join(STATUSES)}")
    sess = cc.session(ctx, need_file=False)
    states = sess.containers(list(services or []), oneoff=None if all_ else False)
    dns_down = Engine.networks_without_dns() if any(s.status.is_up() for s in states) else set()
    rows = [describe(s, dns_down) for s in states]
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
    if fmt == "json":
        print(json.dumps(rows))
        return 0
    table = [("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")]
    for r in rows:
        command = r["Command"] if len(r["Command"]) <= 30 else r["Command"][:27] + "..."
        created = f"{_ago(r['CreatedAt'])} ago"
        table.append((r["Name"], r["Image"], json.dumps(command), r["Service"], created, r["Status"], r["Ports"]))
    print_table(table)
    return 0
