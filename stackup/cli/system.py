"""`stackup system check [--dry-run]`: find what in the engine's state and in the kernel
does not agree (damaged state files, containers without state whose processes run, lost
network records, stray shims and helpers, records of removed containers) and repair it.

Exit status: 0 when the engine is consistent; 1 when something was found (and, without
--dry-run, repaired: a second run then exits 0). Docker has `system` for df/prune/info;
compose has no such command."""

from __future__ import annotations

import typer

from stackup.cli import commands

app = typer.Typer(help=commands.COMMANDS["system"][1], no_args_is_help=True)


@app.command("check")
def check(dry_run: bool = typer.Option(False, "--dry-run",
                                       help="Only list what is wrong; repair nothing")) -> None:
    """Check the engine's state against the kernel and repair it (exit 1 when something
    was found, 0 when all is consistent)."""
    from stackup.engine import check as engine_check

    found = engine_check.findings()
    for finding in found:
        typer.echo(f"found: {finding.problem}")
        if not dry_run:
            finding.repair()
    if not found:
        typer.echo("the engine's state is consistent")
        return
    verdict = "would be repaired (--dry-run)" if dry_run else "repaired"
    typer.echo(f"{len(found)} problem(s) found, {verdict}")
    raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="system")
