"""`stackup schema`: write the JSON schema of stack files (for editors)."""

from __future__ import annotations

from pathlib import Path

import typer

from stackup.cli import commands


def register(app: typer.Typer) -> None:
    commands.add(app, "schema", schema)


def schema(
    output: str = typer.Option("schemas/stackup.schema.json", "-o", "--output",
                               help="Where to write it ('-' for stdout)"),
) -> int:
    from stackup.stackfile.schema import PACKAGE_COPY, schema_text

    text = schema_text()
    current = PACKAGE_COPY.read_text() if PACKAGE_COPY.exists() else ""
    if current != text:
        PACKAGE_COPY.write_text(text)
    if output == "-":
        print(text, end="")
        return 0
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0
