"""`stackup volume ls / create / inspect / rm / prune`: the engine's named volumes."""

from __future__ import annotations

import json

import typer

from stackup.cli.network import pairs, parse_filters, print_table
from stackup.errors import UserError

app = typer.Typer(help="Manage volumes", no_args_is_help=True)


def public(meta: dict) -> dict:
    return {"Name": meta["name"], "Driver": meta["driver"], "Mountpoint": meta["mountpoint"],
            "CreatedAt": meta["created"], "Labels": meta.get("labels", {}),
            "Options": meta.get("options", {}), "Scope": "local",
            "UsedBy": meta.get("in_use_by", [])}


def _volumes():
    """The volumes engine, asking the container runtime which containers use a volume
    (containers of any status, whoever created them)."""
    from stackup.engine import volumes
    from stackup.engine.runtime.container import Runtime

    volumes.register_in_use(Runtime().containers_using_volume)
    return volumes


@app.command("ls")
def ls(quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show volume names"),
       filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE] or name=NAME")) -> None:
    """List volumes."""
    from stackup.engine import volumes
    from stackup.engine.network.store import labels_match

    labels, names = parse_filters(filters)
    vols = [v for v in volumes.list_volumes() if labels_match(v.get("labels", {}), labels)
            and (not names or any(x in v["name"] for x in names))]
    if quiet:
        for v in vols:
            typer.echo(v["name"])
        return
    print_table([("DRIVER", "VOLUME NAME")] + [(v["driver"], v["name"]) for v in vols])


@app.command("create")
def create(name: str = typer.Argument(None, help="Volume name (random when omitted)"),
           driver: str = typer.Option("local", "-d", "--driver", help="Only local"),
           label: list[str] = typer.Option([], "--label", help="KEY=VALUE (repeatable)"),
           opt: list[str] = typer.Option([], "-o", "--opt", help="Driver option KEY=VALUE")) -> None:
    """Create a volume."""
    from stackup.engine import volumes

    meta = volumes.create_volume(name, labels=pairs(label, "--label"), driver=driver,
                                 driver_opts=pairs(opt, "--opt"))
    typer.echo(meta["name"])


@app.command("inspect")
def inspect(names: list[str] = typer.Argument(..., help="Volume names")) -> None:
    """Show volumes in detail (JSON)."""
    volumes = _volumes()

    typer.echo(json.dumps([public(volumes.get_volume(n)) for n in names], indent=2))


@app.command("rm")
def rm(names: list[str] = typer.Argument(..., help="Volume names"),
       force: bool = typer.Option(False, "-f", "--force", help="Remove even when in use")) -> None:
    """Remove volumes."""
    volumes = _volumes()
    from stackup.errors import StackupError

    problems = []
    for name in names:
        try:
            volumes.remove_volume(name, force=force)
            typer.echo(name)
        except StackupError as exc:
            problems += exc.lines()
    if problems:
        raise UserError(problems[0], problems=problems)


@app.command("prune")
def prune(force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
          all_volumes: bool = typer.Option(False, "-a", "--all", help="Also unused named volumes"),
          filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE]")) -> None:
    """Remove unused volumes (anonymous ones, or all with --all)."""
    volumes = _volumes()

    labels, names = parse_filters(filters)
    if names:
        raise UserError("--filter name= is not supported by prune")
    if not force and not typer.confirm("Remove all unused volumes?"):
        return
    removed = volumes.prune_volumes(all_volumes, labels)
    if removed:
        typer.echo("Deleted Volumes:")
        for name in removed:
            typer.echo(name)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="volume")
