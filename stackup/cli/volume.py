"""`stackup volume ls / create / inspect / rm / prune`: the engine's named volumes."""

from __future__ import annotations

import typer

from stackup.cli import commands
from stackup.cli.objects import inspect_each, pairs, prune_after_prompt, remove_each, show_list

app = typer.Typer(help=commands.COMMANDS["volume"][1], no_args_is_help=True)


def public(meta: dict) -> dict:
    """A volume as `docker volume inspect` shows it (plus stackup's `UsedBy`)."""
    from stackup.cli.shapes import go_seconds_time

    return {"CreatedAt": go_seconds_time(meta["created"]), "Driver": meta["driver"],
            "Labels": dict(sorted(meta.get("labels", {}).items())) or None, "Mountpoint": meta["mountpoint"],
            "Name": meta["name"], "Options": meta.get("options") or None, "Scope": "local",
            "UsedBy": meta.get("in_use_by", [])}


def row(meta: dict) -> dict:
    """A row of `docker volume ls` (its `--format json` fields and value formats)."""
    from stackup.cli.shapes import labels_text

    return {"Availability": "N/A", "Driver": meta["driver"], "Group": "N/A",
            "Labels": labels_text(meta.get("labels", {})), "Links": "N/A", "Mountpoint": meta["mountpoint"],
            "Name": meta["name"], "Scope": "local", "Size": "N/A", "Status": "N/A"}


def _volumes():
    """The volumes engine, asking the container runtime which containers use a volume
    (containers of any status, whoever created them)."""
    from stackup.engine import volumes
    from stackup.engine.runtime.container import Runtime

    volumes.register_in_use(Runtime().containers_using_volume)
    return volumes


@app.command("ls")
def ls(quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show volume names"),
       filters: list[str] = typer.Option([], "--filter", help="label=KEY[=VALUE] or name=NAME"),
       fmt: str = typer.Option("table", "--format", help="table, json, or a Go template (table TEMPLATE)")) -> None:
    """List volumes."""
    from stackup.engine import volumes

    show_list(volumes.list_volumes, filters, quiet, ("DRIVER", "VOLUME NAME"),
              lambda v: (v["driver"], v["name"]), fmt=fmt, as_row=row)


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
def inspect(names: list[str] = typer.Argument(..., help="Volume names"),
            fmt: str = typer.Option(None, "-f", "--format", help="A Go template, or json")) -> None:
    """Show volumes in detail (JSON, or a Go template)."""
    volumes = _volumes()

    inspect_each(names, lambda n: public(volumes.get_volume(n)), fmt)


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
