"""`stackup builder prune` and `stackup builder du`: the build cache (the cached steps'
layers and the RUN cache mounts), as `docker builder prune` / `docker buildx du`."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

import typer

from stackup.cli import commands
from stackup.cli.table import print_table

group = typer.Typer(no_args_is_help=True, help=commands.COMMANDS["builder"][1],
                    context_settings={"help_option_names": ["-h", "--help"]})


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="builder")


@group.command("prune")
def prune(all_: bool = typer.Option(False, "-a", "--all", help="Remove all build cache, not just what "
                                                                "no current image uses"),
          force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation")) -> None:
    """Remove build cache."""
    from stackup.cli.image import human_size

    if not force and sys.stdin.isatty():
        what = "all build cache" if all_ else "all dangling build cache"
        if not typer.confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return
    from stackup.engine.build import cache

    removed, freed = cache.prune(all_entries=all_)
    print(f"Deleted build cache objects: {removed}")
    print(f"Total reclaimed space: {human_size(freed)}")


@group.command("du")
def du(verbose: bool = typer.Option(False, "-v", "--verbose", help="Show the full ids and descriptions")) -> None:
    """Show what the build cache holds and its disk usage."""
    from stackup.cli.image import human_size

    from stackup.engine.build import cache

    entries = sorted(cache.usage(), key=lambda e: (-int(e.size), str(e.id)))
    rows = [["ID", "KIND", "SIZE", "LAST USED", "DESCRIPTION"]]
    for entry in entries:
        ident = str(entry.id)
        description = str(entry.description or "")
        if not verbose:
            ident = ident.split(":", 1)[-1][:12]
            description = description if len(description) <= 50 else description[:47] + "..."
        rows.append([ident, str(entry.kind), human_size(int(entry.size)), last_used(entry.last_used), description])
    if len(rows) > 1:
        print_table(rows)
    print(f"Total:\t{human_size(sum(int(e.size) for e in entries))}")


def last_used(value: Any) -> str:
    """When an entry was last used, as `docker buildx du` says it ("3 minutes ago")."""
    from stackup.cli.image import human_age

    if value in (None, "", 0):
        return "never"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(float(value), timezone.utc)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.isoformat().replace("+00:00", "Z")
    return human_age(str(value))
