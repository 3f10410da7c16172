"""top, port, images, stats, events and ls: looking at a stack's containers."""

from __future__ import annotations

import sys
from typing import Any

import typer

from stackup.cli import commands
from stackup.cli.table import print_table
from stackup.errors import NotFoundError


def register(app: typer.Typer) -> None:
    commands.add(app, "top", top)
    commands.add(app, "port", port)
    commands.add(app, "images", images)
    commands.add(app, "ls", ls)
    commands.add(app, "stats", stats)
    commands.add(app, "events", events)


def top(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services")) -> int:
    from stackup.cli import compose_common as cc

    sess = cc.session(ctx, need_file=False, services=services or [])
    for state in sess.containers(list(services or []), running_only=True):
        print(state.name)
        rows: list[tuple[object, ...]] = [("UID", "PID", "PPID", "CMD")]
        rows += [(p["uid"], p["pid"], p["ppid"], p["cmd"]) for p in sess.engine.top(state.id)]
        print_table(rows)
        print()
    return 0


def port(ctx: typer.Context, service: str = typer.Argument(..., help="Service"),
         private_port: int = typer.Argument(..., help="Container port"),
         protocol: str = typer.Option("tcp", "--protocol", help="tcp or udp"),
         index: int = typer.Option(1, "--index", help="Which container of the service")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.project.engine_adapter import Engine

    sess = cc.session(ctx, need_file=False, services=[service])
    states = [s for s in sess.containers([service]) if Engine.observed(s).number == index]
    if not states:
        raise NotFoundError(f"service {service}: no container with index {index}")
    for binding in states[0].network.get("ports") or []:
        if binding.get("container_port") == private_port and binding.get("protocol", "tcp") == protocol:
            print(f"{binding.get('host_ip') or '0.0.0.0'}:{binding.get('host_port')}")
            return 0
    raise NotFoundError(f"service {service}: port {private_port}/{protocol} is not published")


def images(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
           quiet: bool = typer.Option(False, "-q", "--quiet", help="Only ids"),
           fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)")) -> int:
    from stackup.cli import compose_common as cc
    from stackup.cli import formatting, gotemplate
    from stackup.engine.images import platform

    if fmt.strip() not in ("", "table", "json"):
        gotemplate.parse(fmt)
    sess = cc.session(ctx, need_file=False, services=services or [])
    rows: list[dict[str, Any]] = []
    for state in sess.containers(list(services or []), oneoff=None):
        spec = state.container_spec()
        ref = spec.image
        if quiet:
            print(spec.image_id)
            continue
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        size = sess.engine.image_size(spec.image_id)   # None: removed since
        # compose's fields; the platform is this host's (stackup runs images of its own)
        rows.append({"ID": spec.image_id, "ContainerName": state.name, "Repository": repo, "Tag": tag,
                     "Platform": str(platform.host()), "Size": size or 0,
                     "LastTagTime": "0001-01-01T00:00:00Z"})
    if quiet:
        return 0

    def table() -> None:
        print_table([("CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE")] +
                    [(r["ContainerName"], r["Repository"], r["Tag"], r["Platform"],
                      str(r["ID"]).split(":")[-1][:12], f"{int(r['Size']) / 1e6:.3g}MB" if r["Size"] else "-")
                     for r in rows])

    formatting.render(fmt, rows, table, json_lines=False)
    return 0


def ls(ctx: typer.Context, all_: bool = typer.Option(False, "-a", "--all", help="Also stopped projects"),
       quiet: bool = typer.Option(False, "-q", "--quiet", help="Only names"),
       fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)")) -> int:
    from stackup.cli import formatting, gotemplate
    from stackup.project.engine_adapter import Engine
    from stackup.project.projects import list_projects

    if fmt.strip() not in ("", "table", "json"):
        gotemplate.parse(fmt)
    rows = [{"Name": p.name, "Status": p.status(), "ConfigFiles": p.config_files}
            for p in list_projects(Engine()) if all_ or p.running]
    if quiet:
        for row in rows:
            print(row["Name"])
        return 0
    formatting.render(fmt, rows, lambda: print_table(
        [("NAME", "STATUS", "CONFIG FILES")] + [(r["Name"], r["Status"], r["ConfigFiles"]) for r in rows]),
        json_lines=False)
    return 0


def stats(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
          no_stream: bool = typer.Option(False, "--no-stream", help="One snapshot, then exit"),
          fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)")) -> int:
    """CPU (sampled over half a second), memory, network and block I/O and processes of
    each running container, with compose's fields."""
    import functools
    import time

    from stackup.cli import compose_common as cc
    from stackup.cli import formatting, gotemplate
    from stackup.project import usage

    if fmt.strip() not in ("", "table", "json"):
        gotemplate.parse(fmt)
    sess = cc.session(ctx, need_file=False, services=services or [])
    host_memory = sess.engine.host_memory()
    columns = ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs")
    try:
        while True:
            states = sess.containers(list(services or []), oneoff=None, running_only=True)
            before = {s.id: sess.engine.usage(s.id) for s in states}
            start = time.monotonic()
            time.sleep(0.5)
            elapsed = time.monotonic() - start
            rows = [usage.row(state.name, state.id, before[state.id], sess.engine.usage(state.id), elapsed,
                              host_memory) for state in states]
            table = [tuple(formatting.header_of(c, STATS_HEADERS) for c in columns)] + \
                [tuple(r[c] for c in columns) for r in rows]
            formatting.render(fmt, rows, functools.partial(print_table, table), headers=STATS_HEADERS, fields=columns)
            sys.stdout.flush()
            if no_stream:
                return 0
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


STATS_HEADERS = {"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "Name": "NAME"}


def events(ctx: typer.Context, services: list[str] = typer.Argument(None, help="Services"),
           as_json: bool = typer.Option(False, "--json", help="One JSON object per line")) -> int:
    """Container events of the project as they happen (create, start, pause, unpause,
    die, destroy), found by watching the engine's state; until Ctrl-C."""
    from stackup.cli import compose_common as cc
    from stackup.cli.shapes import go_json, go_time
    from stackup.project.container_events import ContainerEvent, watch

    def emit(event: ContainerEvent) -> None:
        attributes = {"image": event.image, "name": event.name, **event.attributes}
        if as_json:  # compose's fields, in Go's order of a map's keys
            print(go_json({"action": event.action, "attributes": dict(sorted(attributes.items())),
                           "id": event.id, "service": event.service, "time": go_time(event.time.isoformat()),
                           "type": "container"}))
        else:
            when = event.time.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")  # local, as compose
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
            print(f"{when} container {event.action} {event.id} ({pairs})")
        sys.stdout.flush()

    watch(cc.session(ctx, need_file=False, services=services or []), list(services or []), emit)
    return 0
