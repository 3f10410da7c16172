"""`stackup version`: stackup's version as compose prints its own (`--short`: the bare
number; `--format json`: `{"version":"v1.2.3"}`, the `v` included as compose has it)."""

from __future__ import annotations

import typer

from stackup.cli import commands
from stackup.errors import UserError


def register(app: typer.Typer) -> None:
    commands.add(app, "version", version)


def version(fmt: str = typer.Option("pretty", "-f", "--format", help="pretty or json"),
            short: bool = typer.Option(False, "--short", help="Only the version number")) -> int:
    from stackup import __version__
    from stackup.cli.shapes import go_json

    if short:
        print(__version__)
    elif fmt == "json":
        print(go_json({"version": f"v{__version__}"}))
    elif fmt == "pretty":
        print(f"stackup version v{__version__}")
    else:
        raise UserError(f"--format {fmt!r}: expected pretty or json")
    return 0
