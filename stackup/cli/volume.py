"""`stackup volume ls / create / inspect / rm / prune`: the engine's named volumes."""

from __future__ import annotations

import json

import typer

from stackup.cli import commands
from stackup.cli.objects import pairs, prune_after_prompt, remove_each, show_list

app = typer.Typer(help=commands.COMMANDS["volume"][1], no_args_is_help=True)


def public(meta: dict) -> dict:
    """A volume as `inspect` shows it (Docker's field names, plus `UsedBy`)."""
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

    show_list(volumes.list_volumes, filters, quiet, ("DRIVER", "VOLUME NAME"),
              lambda v: (v["driver"], v["name"]))


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

    remove_each(names, lambda name: volumes.remove_volume(name, force=force))


@app.command("prune")
def prune(force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
          all_volumes: bool = typer.Option(False, "-a", "--all", help="Also unused named volumes"),
          filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE]")) -> None:
    """Remove unused volumes (anonymous ones, or all with --all)."""
    volumes = _volumes()

    prune_after_prompt(filters, force, "Remove all unused volumes?",
                       lambda labels: volumes.prune_volumes(all_volumes, labels),
                       "Deleted Volumes:")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="volume")
